#!/usr/bin/env python3
"""Reference values for the research statistics (packages/dosimetry-core/src/research).

Run with Debian's Python and its packaged SciPy stack (NOT the pyenv python3 first on PATH):
    apt-get install -y python3-sklearn python3-statsmodels python3-scipy python3-pandas
    /usr/bin/python3 scripts/reference/research_reference.py

It writes, under packages/dosimetry-core/test/research/fixtures/:
  lesions.csv    synthetic lesion-level data set (fixed seed): patient, lesion, dose, diameter, response ...
  patients.csv   synthetic patient-level data set (fixed seed): dose, grade, origin, PFS/OS with events
  reference.json values from established implementations:
      scikit-learn roc_auc_score / roc_curve, scipy.stats mannwhitneyu / kruskal / norm / chi2 / erfc,
      statsmodels Logit and PHReg(ties='efron'), SurvfuncRight (KM, Greenwood SE, median, quantile_ci), survdiff,
  plus two hand implementations where no library has the method (written independently of the TypeScript code):
      DeLong's AUC variance in its pairwise O(n1 n0) form (DeLong et al. 1988, eq. for V10/V01), and
      the percentile cluster bootstrap of the AUC with a bit-exact transcription of the mulberry32 generator.
The data files are generated once; rerunning reproduces them byte for byte (fixed seeds, fixed formatting).
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import scipy
import scipy.special
import scipy.stats as st
import sklearn
import sklearn.metrics as skm
import statsmodels
import statsmodels.api as sm
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'packages', 'dosimetry-core', 'test', 'research', 'fixtures')


def f(x):
    """float or None (JSON has no inf/nan)."""
    x = float(x)
    return x if np.isfinite(x) else None


# ---------------------------------------------------------------------------------------------- data sets
def make_lesions():
    rng = np.random.default_rng(20240611)
    rows = []
    lesion_no = 0
    for p in range(1, 25):
        n_les = int(rng.integers(1, 5))
        patient_effect = rng.normal(0, 0.5)
        for k in range(n_les):
            lesion_no += 1
            dose = float(np.round(np.exp(rng.normal(5.0, 0.55)), 1))  # Gy, rounded to 0.1 Gy (creates some ties)
            diam = float(np.round(rng.uniform(12, 70), 1))
            lin = -3.2 + 0.018 * dose + patient_effect + rng.normal(0, 0.6)
            prob = 1 / (1 + np.exp(-lin))
            resp = bool(rng.uniform() < prob)
            cat = ('CR' if rng.uniform() < 0.3 else 'PR') if resp else ('SD' if rng.uniform() < 0.6 else 'PD')
            rows.append(dict(patient=f'P{p:02d}', lesion=f'Tumor #{k + 1}', doseGy=dose, diameterMm=diam, response=cat))
    # a couple of exact ties across classes, on purpose
    rows[3]['doseGy'] = rows[10]['doseGy']
    rows[5]['doseGy'] = rows[20]['doseGy']
    return pd.DataFrame(rows)


def make_patients():
    rng = np.random.default_rng(20240612)
    n = 60
    dose = np.round(np.exp(rng.normal(4.9, 0.5, n)), 1)
    grade = rng.choice(['1', '2', '3'], n, p=[0.35, 0.45, 0.2])
    origin = rng.choice(['pancreas', 'small-bowel', 'other'], n, p=[0.4, 0.4, 0.2])
    age = np.round(rng.normal(62, 9, n))
    lin = -0.008 * (dose - 130) + np.where(grade == '2', 0.5, 0) + np.where(grade == '3', 1.1, 0) + np.where(origin == 'pancreas', 0.4, 0)
    t_event = rng.exponential(18 * np.exp(-lin))
    t_cens = rng.uniform(6, 48, n)
    pfs = np.round(np.minimum(t_event, t_cens))  # whole months: many ties
    pfs = np.maximum(pfs, 1)
    ev = (t_event <= t_cens).astype(int)
    os_t = np.round(pfs + rng.exponential(14, n), 1)
    os_ev = (rng.uniform(size=n) < 0.55).astype(int)
    return pd.DataFrame(dict(patient=[f'P{i + 1:02d}' for i in range(n)], doseGy=dose, grade=grade, origin=origin, age=age,
                             pfsMonths=pfs, pfsEvent=ev, osMonths=os_t, osEvent=os_ev))


# ---------------------------------------------------------------------------------------------- hand methods
def delong_pairwise(pos, neg):
    """DeLong et al. 1988: psi(X, Y) = 1 if X > Y, 1/2 if equal, 0 otherwise; V10(X_i) = mean_j psi(X_i, Y_j),
    V01(Y_j) = mean_i psi(X_i, Y_j); var = S10/m + S01/n with unbiased sample variances."""
    pos = np.asarray(pos, float)[:, None]
    neg = np.asarray(neg, float)[None, :]
    psi = (pos > neg) + 0.5 * (pos == neg)
    v10 = psi.mean(axis=1)
    v01 = psi.mean(axis=0)
    auc = psi.mean()
    var = v10.var(ddof=1) / len(v10) + v01.var(ddof=1) / len(v01)
    return auc, np.sqrt(var)


M32 = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & M32


def mulberry32(seed):
    state = [seed & M32]

    def nxt():
        state[0] = (state[0] + 0x6D2B79F5) & M32
        a = state[0]
        t = imul(a ^ (a >> 15), 1 | a)
        t = ((t + imul(t ^ (t >> 7), 61 | t)) & M32) ^ t
        return ((t ^ (t >> 14)) & M32) / 4294967296.0

    return nxt


def cluster_bootstrap(dose, pos, clusters, reps, seed, alpha=0.05):
    # canonical order: sorted ids (code-point order, as the engine's), so the CI does not depend on the row order
    # (in lesions.csv the patients appear in sorted order, so reference.json is the same either way)
    ids = sorted(set(clusters))
    members = {c: [i for i, x in enumerate(clusters) if x == c] for c in ids}
    rnd = mulberry32(seed)
    aucs = []
    for _ in range(reps):
        idx = []
        for _ in range(len(ids)):
            idx += members[ids[int(np.floor(rnd() * len(ids)))]]
        y = np.asarray(pos)[idx]
        if y.all() or not y.any():
            continue
        aucs.append(skm.roc_auc_score(y, np.asarray(dose)[idx]))
    a = np.sort(np.asarray(aucs))
    return [float(np.quantile(a, alpha / 2)), float(np.quantile(a, 1 - alpha / 2))], len(aucs)


# ---------------------------------------------------------------------------------------------- references
def main():
    os.makedirs(OUT, exist_ok=True)
    les = make_lesions()
    pat = make_patients()
    les.to_csv(os.path.join(OUT, 'lesions.csv'), index=False, lineterminator='\n')
    pat.to_csv(os.path.join(OUT, 'patients.csv'), index=False, lineterminator='\n')
    les = pd.read_csv(os.path.join(OUT, 'lesions.csv'))
    pat = pd.read_csv(os.path.join(OUT, 'patients.csv'), dtype={'grade': str})

    ref = dict(versions=dict(python=sys.version.split()[0], numpy=np.__version__, scipy=scipy.__version__,
                             sklearn=sklearn.__version__, statsmodels=statsmodels.__version__, pandas=pd.__version__))

    # special functions
    xs = [-3, -1, 0, 0.1, 0.5, 1, 1.5, 2, 2.4, 2.5, 2.6, 3, 4, 5, 8, 10, 15, 20, 26]
    ps = [1e-300, 1e-100, 1e-20, 1e-10, 1e-5, 0.001, 0.01, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.975, 0.999, 1 - 1e-10]
    chis = [[0.001, 1], [0.5, 1], [3.841458820694124, 1], [10, 1], [50, 1], [5.991, 2], [1, 3], [7.8, 3], [100, 3],
            [2, 10], [30, 10], [0.1, 0.5], [200, 50], [900, 4]]
    ref['special'] = dict(
        erfc=[[x, float(scipy.special.erfc(x))] for x in xs],
        normQuantile=[[p, float(st.norm.ppf(p))] for p in ps],
        chi2Sf=[[x, k, float(st.chi2.sf(x, k))] for x, k in chis],
        lnGamma=[[x, float(scipy.special.gammaln(x))] for x in [0.1, 0.5, 1, 1.5, 2.5, 7, 10.3, 50, 171.5, 1000]],
    )

    # ROC
    positive = les['response'].isin(['CR', 'PR']).to_numpy()
    dose = les['doseGy'].to_numpy()
    fpr, tpr, thr = skm.roc_curve(positive, dose, drop_intermediate=False)
    auc_d, se_d = delong_pairwise(dose[positive], dose[~positive])
    z = st.norm.ppf(0.975)
    boot_ci, boot_used = cluster_bootstrap(dose, positive, list(les['patient']), 2000, 20240101)
    ref['roc'] = dict(
        auc=float(skm.roc_auc_score(positive, dose)),
        curve=[dict(threshold=float(t), tpr=float(a), fpr=float(b)) for t, a, b in zip(thr[1:], tpr[1:], fpr[1:])],
        delongAuc=float(auc_d), delongSe=float(se_d),
        delongCi=[max(0.0, float(auc_d - z * se_d)), min(1.0, float(auc_d + z * se_d))],
        clusterBootstrap=dict(replicates=2000, seed=20240101, ci=boot_ci, used=boot_used),
        nPositive=int(positive.sum()), nNegative=int((~positive).sum()),
    )

    # groups: Mann-Whitney (asymptotic, ties present) and an exact small case; Kruskal-Wallis across 4 classes
    x = dose[positive]
    y = dose[~positive]
    mw = st.mannwhitneyu(x, y, alternative='two-sided', method='asymptotic')
    sx = [12.5, 30.1, 7.7, 45.0, 22.2]
    sy = [50.3, 61.0, 33.3, 70.7, 48.8, 90.9, 27.4]
    mwe = st.mannwhitneyu(sx, sy, alternative='two-sided', method='exact')
    mwe2 = st.mannwhitneyu(sy[:3], sx, alternative='two-sided', method='exact')
    groups = {g: les.loc[les['response'] == g, 'doseGy'].to_numpy() for g in ['CR', 'PR', 'SD', 'PD']}
    kw = st.kruskal(*groups.values())
    ref['groups'] = dict(
        mannWhitney=dict(u1=float(mw.statistic), p=float(mw.pvalue), n1=int(len(x)), n2=int(len(y))),
        mannWhitneyExact=dict(x=sx, y=sy, u1=float(mwe.statistic), p=float(mwe.pvalue)),
        mannWhitneyExact2=dict(x=sy[:3], y=sx, u1=float(mwe2.statistic), p=float(mwe2.pvalue)),
        kruskal=dict(h=float(kw.statistic), p=float(kw.pvalue), df=3),
        medians={g: float(np.median(v)) for g, v in groups.items()},
        ranges={g: [float(v.min()), float(v.max())] for g, v in groups.items()},
    )

    # logistic: dose alone (D50, gamma50, delta-method SE) and dose + diameter
    yb = positive.astype(float)
    out = {}
    for name, cols in [('dose', ['doseGy']), ('doseDiameter', ['doseGy', 'diameterMm'])]:
        X = sm.add_constant(les[cols].to_numpy())
        r = sm.Logit(yb, X).fit(method='newton', tol=1e-14, maxiter=200, disp=0)
        ci = r.conf_int(0.05)
        out[name] = dict(names=['intercept'] + cols, params=[float(v) for v in r.params], bse=[float(v) for v in r.bse],
                         pvalues=[float(v) for v in r.pvalues], ciLow=[float(v) for v in ci[:, 0]],
                         ciHigh=[float(v) for v in ci[:, 1]], llf=float(r.llf), llnull=float(r.llnull))
        if name == 'dose':
            b0, b1 = r.params
            V = r.cov_params()
            g = np.array([-1 / b1, b0 / b1 ** 2])
            out[name]['d50Gy'] = float(-b0 / b1)
            out[name]['d50SeGy'] = float(np.sqrt(g @ V @ g))
            out[name]['gamma50'] = float(b1 * (-b0 / b1) / 4)
    ref['logistic'] = out

    # Cox PH, Efron ties: univariate and multivariate on PFS; categorical grade (ref 1) and origin (ref "other")
    pat['grade2'] = (pat['grade'] == '2').astype(float)
    pat['grade3'] = (pat['grade'] == '3').astype(float)
    pat['originPancreas'] = (pat['origin'] == 'pancreas').astype(float)
    pat['originSmallBowel'] = (pat['origin'] == 'small-bowel').astype(float)
    models = dict(dose=['doseGy'], grade=['grade2', 'grade3'], origin=['originPancreas', 'originSmallBowel'], age=['age'],
                  multi=['doseGy', 'grade2', 'grade3', 'originPancreas', 'originSmallBowel'])
    cox = {}
    for name, cols in models.items():
        for endpoint in ['pfs', 'os']:
            m = PHReg(pat[f'{endpoint}Months'].to_numpy(float), pat[cols].to_numpy(float), status=pat[f'{endpoint}Event'].to_numpy(float), ties='efron')
            r = m.fit(method='newton', tol=1e-14, maxiter=200)
            ci = r.conf_int(0.05)
            entry = dict(columns=cols, params=[float(v) for v in r.params], bse=[float(v) for v in r.bse],
                         pvalues=[float(v) for v in r.pvalues], hrLow=[float(np.exp(v)) for v in ci[:, 0]],
                         hrHigh=[float(np.exp(v)) for v in ci[:, 1]], llf=float(r.llf))
            if len(cols) > 1:
                w = r.wald_test(np.eye(len(cols)), scalar=True)
                entry['waldChi2'] = float(w.statistic)
                entry['waldP'] = float(w.pvalue)
            cox[f'{name}_{endpoint}'] = entry
    ref['cox'] = cox

    # Kaplan-Meier per dose group (median split at 130 Gy) and per grade; log-rank
    pat['doseGroup'] = np.where(pat['doseGy'] >= 130, 'high', 'low')
    km = {}
    for by in ['doseGroup', 'grade']:
        curves = {}
        for g, d in pat.groupby(by):
            sf = SurvfuncRight(d['pfsMonths'].to_numpy(float), d['pfsEvent'].to_numpy(float))
            lo, hi = sf.quantile_ci(0.5, method='cloglog')
            curves[str(g)] = dict(times=[float(v) for v in sf.surv_times], surv=[float(v) for v in sf.surv_prob],
                                  se=[f(v) for v in sf.surv_prob_se], atRisk=[int(v) for v in sf.n_risk],
                                  events=[int(v) for v in sf.n_events], median=f(sf.quantile(0.5)),
                                  medianCi=[f(lo), f(hi)])
        chi2, p = survdiff(pat['pfsMonths'].to_numpy(float), pat['pfsEvent'].to_numpy(float), pat[by].to_numpy())
        km[by] = dict(curves=curves, logRankChi2=float(chi2), logRankP=float(p))
    ref['km'] = km

    with open(os.path.join(OUT, 'reference.json'), 'w') as fh:
        json.dump(ref, fh, indent=1)
        fh.write('\n')
    print('wrote', os.path.normpath(OUT))


if __name__ == '__main__':
    main()
