/**
 * Where the time of one WebGPU call goes (benchmarks: scripts/bench-ldm.ts). ldmDoseGpu, structureStatsGpu and
 * convolveGpuDetailed take an optional `phases` recorder; without one they run exactly as before. With one they
 * mark which phase their host time belongs to (pipeline compile, host -> device upload, kernels, device -> host
 * read-back, other host work), wait for the queue after the upload and after the kernels (so the phases run one
 * after the other and add up to the wall time of the call), and give each compute pass timestamp writes when the
 * device has the 'timestamp-query' feature.
 *
 * Upload: queue.writeBuffer / mapped-at-creation fills plus the queue's copies, until the queue is idle. Kernel:
 * submit until the queue is idle (host clock), and, with timestamps, the sum over compute passes of end - begin
 * (GPU clock, ns -> ms). Read-back: copy into a mappable buffer, mapAsync, copy out of the mapped range.
 */
import { GpuError } from '../errors.ts';
import { awaitGpu } from './wait.ts';

/** A phase of a WebGPU call; 'host' is everything that is none of the others (buffer and bind group creation, CPU work). */
export type GpuPhase = 'host' | 'compile' | 'upload' | 'kernel' | 'readback';

/** The hooks the GPU functions call when given a recorder (see the module comment). */
export interface GpuPhaseRecorder {
  /** Host time from now on counts to `phase`, until the next enter(). */
  enter(phase: GpuPhase): void;
  /** Flushes queued writes and waits until the queue is idle; the wait counts to the current phase. */
  drain(): Promise<void>;
  /** Descriptor for beginComputePass: timestamp writes for this pass when timestamps are on, else undefined. */
  computePass(label?: string): GPUComputePassDescriptor | undefined;
}

/** Times of one recorded call [ms]; wallMs = hostMs + compileMs + uploadMs + kernelMs + readbackMs. */
export interface GpuPhaseTimes {
  /** Host clock from start() to stop() [ms]. */
  readonly wallMs: number;
  readonly hostMs: number;
  readonly compileMs: number;
  readonly uploadMs: number;
  /** Kernel submit until the queue is idle, host clock [ms]. */
  readonly kernelMs: number;
  readonly readbackMs: number;
  /** Sum over compute passes of the GPU timestamps end - begin [ms]; undefined without timestamps. */
  readonly gpuTimestampMs?: number;
  /** Compute passes begun through computePass(). */
  readonly passes: number;
}

/** Options of GpuPhaseTimer. */
export interface GpuPhaseTimerOptions {
  /** Use GPU timestamps when the device has 'timestamp-query' (default true). */
  readonly timestamps?: boolean;
  /** Most timed compute passes per recorded call (default 1024; 2 queries each, <= 4096 queries). */
  readonly maxPasses?: number;
}

/**
 * A GpuPhaseRecorder that adds up host time per phase between start() and stop(), and reads the pass timestamps.
 * One recorded call at a time; start() again for the next. destroy() frees its query set and buffers.
 */
export class GpuPhaseTimer implements GpuPhaseRecorder {
  /** True when compute passes get timestamp writes (the device has 'timestamp-query' and they were not turned off). */
  readonly timestamps: boolean;
  private readonly device: GPUDevice;
  private readonly maxPasses: number;
  private readonly querySet?: GPUQuerySet;
  private readonly resolveBuf?: GPUBuffer;
  private readonly readBuf?: GPUBuffer;
  private totals = new Map<GpuPhase, number>();
  private current: GpuPhase = 'host';
  private since = 0;
  private started = 0;
  private passes = 0;
  private running = false;

  constructor(device: GPUDevice, options: GpuPhaseTimerOptions = {}) {
    this.device = device;
    this.maxPasses = Math.max(1, Math.min(2048, Math.floor(options.maxPasses ?? 1024)));
    this.timestamps = (options.timestamps ?? true) && device.features.has('timestamp-query');
    if (this.timestamps) {
      const count = 2 * this.maxPasses;
      this.querySet = device.createQuerySet({ label: 'phase timestamps', type: 'timestamp', count });
      this.resolveBuf = device.createBuffer({ label: 'phase timestamps resolve', size: 8 * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      this.readBuf = device.createBuffer({ label: 'phase timestamps readback', size: 8 * count, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
  }

  /** Starts recording one call (host phase). */
  start(): void {
    this.totals = new Map();
    this.passes = 0;
    this.current = 'host';
    this.started = this.since = performance.now();
    this.running = true;
  }

  enter(phase: GpuPhase): void {
    if (!this.running) return;
    const now = performance.now();
    this.totals.set(this.current, (this.totals.get(this.current) ?? 0) + now - this.since);
    this.current = phase;
    this.since = now;
  }

  async drain(): Promise<void> {
    if (!this.running) return;
    // an empty command buffer makes the queue run the copies that writeBuffer / unmap left pending
    this.device.queue.submit([this.device.createCommandEncoder({ label: 'phase drain' }).finish()]);
    await awaitGpu(this.device.queue.onSubmittedWorkDone());
  }

  computePass(label?: string): GPUComputePassDescriptor | undefined {
    if (!this.running || !this.querySet) return undefined;
    if (this.passes >= this.maxPasses) {
      throw new GpuError(`phase timer: more than ${this.maxPasses} compute passes in one call; create the GpuPhaseTimer with a larger maxPasses`);
    }
    const k = this.passes++;
    return { label, timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 } };
  }

  /** Ends the recorded call and returns its times; reads the timestamps (outside the recorded wall time). */
  async stop(): Promise<GpuPhaseTimes> {
    this.enter('host');
    this.running = false;
    const wallMs = this.since - this.started;
    const t = (p: GpuPhase) => this.totals.get(p) ?? 0;
    let gpuTimestampMs: number | undefined;
    if (this.querySet && this.resolveBuf && this.readBuf) {
      gpuTimestampMs = 0;
      if (this.passes > 0) {
        const bytes = 16 * this.passes;
        const enc = this.device.createCommandEncoder({ label: 'phase timestamps' });
        enc.resolveQuerySet(this.querySet, 0, 2 * this.passes, this.resolveBuf, 0);
        enc.copyBufferToBuffer(this.resolveBuf, 0, this.readBuf, 0, bytes);
        this.device.queue.submit([enc.finish()]);
        await awaitGpu(this.readBuf.mapAsync(GPUMapMode.READ, 0, bytes));
        const ns = new BigUint64Array(this.readBuf.getMappedRange(0, bytes).slice(0));
        this.readBuf.unmap();
        for (let k = 0; k < this.passes; k++) {
          // a pass whose end reads before its begin (clock reset, unsupported) adds nothing
          const d = ns[2 * k + 1] - ns[2 * k];
          if (d > 0n) gpuTimestampMs += Number(d) / 1e6;
        }
      }
    }
    return {
      wallMs,
      hostMs: t('host'),
      compileMs: t('compile'),
      uploadMs: t('upload'),
      kernelMs: t('kernel'),
      readbackMs: t('readback'),
      gpuTimestampMs,
      passes: this.passes,
    };
  }

  /** Frees the query set and its buffers. */
  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuf?.destroy();
    this.readBuf?.destroy();
  }
}

/** With a phase recorder: waits for the queued work (upload or kernels) and goes back to the host phase. */
export async function settle(phases: GpuPhaseRecorder | undefined): Promise<void> {
  if (!phases) return;
  await phases.drain();
  phases.enter('host');
}

/**
 * The encoder readBack() should copy from: `enc` itself, or with a phase recorder a fresh one after `enc`'s kernels
 * were submitted and waited for alone (then the read-back phase starts).
 */
export async function kernelsAlone(device: GPUDevice, enc: GPUCommandEncoder, phases: GpuPhaseRecorder | undefined): Promise<GPUCommandEncoder> {
  if (!phases) return enc;
  phases.enter('kernel');
  device.queue.submit([enc.finish()]);
  await phases.drain();
  phases.enter('readback');
  return device.createCommandEncoder();
}
