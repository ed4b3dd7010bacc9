/**
 * DICOMweb (PS3.18) in and out: QIDO-RS search, WADO-RS retrieve into a local cache keyed by SOP Instance UID, STOW-RS
 * store of the results. Credentials from the environment only (auth.ts); bounded timeouts and retries (http.ts).
 */
export { DICOMWEB_PREFIX, isDicomwebSpec, isDicomUid, parseBaseUrl, parseSeriesSpec, seriesSpecOf, redactUrl, type DicomwebSeriesRef } from './url.ts';
export { authFromEnv, checkTransport, isLoopbackHost, TOKEN_ENV, USER_ENV, PASSWORD_ENV, type DicomwebAuth } from './auth.ts';
export { parseMultipart, buildMultipart, contentTypeParameter, type MultipartPart, type BuiltMultipart } from './multipart.ts';
export { httpRequest, DicomwebHttpError, DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_MS, DEFAULT_TIMEOUTS_MS, RETRYABLE_STATUS, type HttpSettings, type HttpRequest, type HttpAnswer } from './http.ts';
export { DicomwebClient, parseStowResponse, jsonString, type DicomJson, type DicomwebSeries, type DicomwebInstance, type StowResult, type DicomwebClientOptions } from './client.ts';
export { defaultCacheDir, seriesCacheDir, fetchSeries, type FetchedSeries } from './cache.ts';
export { resolveDicomwebInputs, hasDicomwebInputs, type DicomwebArgs, type DicomwebProvenance, type ResolveDicomwebOptions } from './inputs.ts';
export { storeCaseOutputs, storeSummaryLines, parseStoreSpec, checkStorableIdentity, type StoreSummary, type StoredObject, type StoreCaseOutputsOptions } from './store.ts';
