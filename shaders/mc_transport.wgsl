// Monte Carlo transport (`--method mc`): one invocation runs one decay history h = firstHistory + global id, with
// exactly the transport algorithm of the CPU back end, src/mc/history-cpu.ts (class II condensed-history
// electrons with a random hinge and voxel-boundary stops, Woodcock photons, Philox-4x32-10 random numbers keyed by
// (seed, MC_KEY_HI) with counter (h mod 2^32, h div 2^32, block, 0), so one history draws the same numbers here and
// on the CPU). Arithmetic in f32; tallies are exact integers. Source biasing (importance sampling of the decay
// source, src/mc/source.ts buildBiasedSource): a history from alias entry k carries the weight w of k's class and
// rounds every deposit, escape and emission in its own unit, U / w (U: the problem's tally unit), as the CPU does.
// CPU oracle: runHistoriesCpu() in packages/dosimetry-core/src/mc/history-cpu.ts (exported by transport-cpu.ts;
// host: src/mc/transport-gpu.ts).
//
// Units: lengths [cm] along the grid's index axes (positions voxel-local, see below); energies [MeV]; densities
// [g/cm^3]; table rows per density (cm^2/g, MeV cm^2/g, g/cm^2) as McRow in src/mc/types.ts; tallies in integer
// numbers of the problem's tally unit U [MeV] (each deposit rounded to the nearest unit, floor(E / u + 0.5), before it
// is added, with u = U / w the history's unit: u = U in an analog run, w = 1; a weighted deposit E counts E w units).
//
// Bindings (group 0):
//   0: params  uniform McParams (below).
//   1: data    array<u32>, storage read: every table, f32 as bits, at word offsets given in params:
//              tables [(m * 11 + row) * 512 + i] (McRow layout) at tableOff; photon majorant [1/cm] (512) at
//              majorantOff; beta inverse CDF [MeV] (betaN) at betaOff; photon lines (energy [MeV], yield) pairs
//              at linesOff; source alias table: voxel index (u32) at srcVoxelOff, keep probability (f32) at
//              srcProbOff, alias (u32) at srcAliasOff, nSource entries each; weight class (u32) of each entry at
//              srcClassOff (nSource words, read only when params.weighted != 0; else every entry is class 0);
//              weight classes at classOff, 2 + nLines words each: the history's unit u = U / w [MeV] (f32, divided
//              in f64 by the host), the local energy per decay in units u (u32), each photon line's energy in
//              units u (u32), the two rounded by the host in f64 exactly as the CPU rounds them.
//   2, 3: media0, media1  array<u32>, storage read: packed medium word of voxel v (material << 24 | density in units
//              of 1e-6 g/cm^3); voxels [0, mediaChunkVoxels) in media0, the rest in media1 (split so that no binding
//              exceeds the device's storage binding limit).
//   4..7: tally0..tally3  array<atomic<u32>>, storage read_write: 8 header words then (lo, hi) u32 pairs, the
//              64-bit integer energy of voxel v = c * tallyChunkVoxels + r at words 8 + 2 r of tally c. Header of
//              tally0 (64-bit pairs): [0,1] escaped units, [2,3] emitted units, [4,5] stack overflows; the headers of
//              tally1..3 are unused. 64-bit add: atomicAdd on lo; when it wrapped (old + add < old), atomicAdd 1 on hi.
// Overrides: WG (workgroup size, <= 256). Dispatch: 2-D grid of ceil(count / WG) workgroups
//   (linear id = wid.x + wid.y * num_workgroups.x) so that no dimension exceeds 65535.
// Private memory: a particle stack of 32 entries per invocation (spec: a push onto a full stack deposits instead).
// Positions: a particle is (voxel index vi, position q [cm] inside that voxel from its corner, 0 <= q <= voxel size),
// i.e. the CPU's x = vi * voxelCm + q. In f32 this keeps the precision of a position at ~1e-8 cm anywhere in the grid
// (global coordinates would lose it far from the corner: ulp(40 cm) = 4e-6 cm), so the distances to the voxel faces
// that steer the histories agree with the CPU's f64 ones; a crossing puts q exactly on the new voxel's face.

struct McParams {
  nx: u32,
  ny: u32,
  nz: u32,
  count: u32,
  voxelCmX: f32,
  voxelCmY: f32,
  voxelCmZ: f32,
  weighted: u32,
  seed: u32,
  keyHi: u32,
  firstLo: u32,
  firstHi: u32,
  nSource: u32,
  srcVoxelOff: u32,
  srcProbOff: u32,
  srcAliasOff: u32,
  srcClassOff: u32,
  classOff: u32,
  tableOff: u32,
  majorantOff: u32,
  betaOff: u32,
  betaN: u32,
  linesOff: u32,
  nLines: u32,
  mediaChunkVoxels: u32,
  tallyChunkVoxels: u32,
  lnMin: f32,
  dLn: f32,
  electronCutoffMeV: f32,
  deltaThresholdMeV: f32,
  bremsThresholdMeV: f32,
  photonCutoffMeV: f32,
  stepFraction: f32,
  maxStepCm: f32,
  betasPerDecay: f32,
  localMeVPerDecay: f32,
}

override WG: u32 = 256;

@group(0) @binding(0) var<uniform> params: McParams;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> media0: array<u32>;
@group(0) @binding(3) var<storage, read> media1: array<u32>;
@group(0) @binding(4) var<storage, read_write> tally0: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> tally1: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> tally2: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> tally3: array<atomic<u32>>;

const N_PTS: u32 = 512u;     // MC_TABLE_POINTS
const N_ROWS: u32 = 11u;     // MC_TABLE_ROWS
const ROW_RANGE: u32 = 0u;
const ROW_STOPPING: u32 = 1u;
const ROW_MOLLER: u32 = 2u;
const ROW_BREMS: u32 = 3u;
const ROW_EL_HARD: u32 = 4u;
const ROW_EL_SCREEN: u32 = 5u;
const ROW_EL_MUCUT: u32 = 6u;
const ROW_EL_MOTTC: u32 = 7u;
const ROW_EL_SOFT_T1: u32 = 8u;
const ROW_PH_TOTAL: u32 = 9u;
const ROW_PH_PHOTO: u32 = 10u;
const STACK_SIZE: u32 = 32u;
const MAX_STEPS: u32 = 100000u;  // per particle (spec "Guards")
const MAX_TRIALS: u32 = 1000u;   // per rejection loop
const MC2_MEV: f32 = 0.51099895; // electron rest energy [MeV] (CODATA 2018)
const TWO_PI: f32 = 6.283185307179586;
const DENSITY_UNIT: f32 = 1e-6;  // MC_DENSITY_UNIT [g/cm^3]
const HEADER_WORDS: u32 = 8u;
const KIND_ELECTRON: u32 = 0u;
const KIND_PHOTON: u32 = 1u;

// ---- philox begin (Philox-4x32-10, Salmon et al. 2011; oracle: philox4x32 in src/mc/philox.ts) ----
const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// High word of the 64-bit product a * b, from 16-bit halves (WGSL has no 32x32 -> 64 multiply).
fn mulhi32(a: u32, b: u32) -> u32 {
  let a0 = a & 0xFFFFu;
  let a1 = a >> 16u;
  let b0 = b & 0xFFFFu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
  return p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}

fn philox4x32(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var x = counter;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    let hi0 = mulhi32(PHILOX_M0, x.x);
    let lo0 = PHILOX_M0 * x.x;
    let hi1 = mulhi32(PHILOX_M1, x.z);
    let lo1 = PHILOX_M1 * x.z;
    x = vec4<u32>(hi1 ^ x.y ^ k.x, lo1, hi0 ^ x.w ^ k.y, lo0);
    k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
  }
  return x;
}
// ---- philox end ----

// ---- random stream of the history ----
var<private> rngCounter: vec4<u32>; // (h_lo, h_hi, block, 0)
var<private> rngKey: vec2<u32>;     // (seed, MC_KEY_HI)
var<private> rngBlock: vec4<u32>;
var<private> rngIndex: u32;         // next word of rngBlock; 4 = draw a new block

fn nextU32() -> u32 {
  if (rngIndex >= 4u) {
    rngBlock = philox4x32(rngCounter, rngKey);
    rngCounter.z = rngCounter.z + 1u;
    rngIndex = 0u;
  }
  let x = rngBlock[rngIndex];
  rngIndex = rngIndex + 1u;
  return x;
}

// Uniform deviate in (0, 1): (x >> 8 + 0.5) 2^-24, exact in f32.
fn next() -> f32 {
  return (f32(nextU32() >> 8u) + 0.5) * (1.0 / 16777216.0);
}

// ---- tables ----
fn dataF(i: u32) -> f32 {
  return bitcast<f32>(data[i]);
}

struct TablePos {
  i: u32,
  w: f32,
}

// Position of energy e on the log grid: f = (ln e - lnMin) / dLn clamped to [0, N-1]; i = min(floor f, N-2).
fn tablePos(e: f32) -> TablePos {
  let f = clamp((log(e) - params.lnMin) / params.dLn, 0.0, f32(N_PTS - 1u));
  let i = min(u32(floor(f)), N_PTS - 2u);
  return TablePos(i, f - f32(i));
}

fn lerpAt(base: u32, p: TablePos) -> f32 {
  let a = dataF(base + p.i);
  let b = dataF(base + p.i + 1u);
  return a + p.w * (b - a);
}

fn rowAt(m: u32, row: u32, p: TablePos) -> f32 {
  return lerpAt(params.tableOff + (m * N_ROWS + row) * N_PTS, p);
}

// ---- voxels, media, tallies ----
fn voxelIndex(vi: vec3<i32>) -> u32 {
  return u32(vi.x) + params.nx * (u32(vi.y) + params.ny * u32(vi.z));
}

fn insideGrid(vi: vec3<i32>) -> bool {
  return vi.x >= 0 && vi.y >= 0 && vi.z >= 0 && u32(vi.x) < params.nx && u32(vi.y) < params.ny && u32(vi.z) < params.nz;
}

fn mediumWord(v: u32) -> u32 {
  if (v < params.mediaChunkVoxels) {
    return media0[v];
  }
  return media1[v - params.mediaChunkVoxels];
}

// 64-bit add of q to the (lo, hi) pair at word w of tally buffer c.
fn add64(c: u32, w: u32, q: u32) {
  switch c {
    case 0u: {
      let old = atomicAdd(&tally0[w], q);
      if (old + q < old) { atomicAdd(&tally0[w + 1u], 1u); }
    }
    case 1u: {
      let old = atomicAdd(&tally1[w], q);
      if (old + q < old) { atomicAdd(&tally1[w + 1u], 1u); }
    }
    case 2u: {
      let old = atomicAdd(&tally2[w], q);
      if (old + q < old) { atomicAdd(&tally2[w + 1u], 1u); }
    }
    default: {
      let old = atomicAdd(&tally3[w], q);
      if (old + q < old) { atomicAdd(&tally3[w + 1u], 1u); }
    }
  }
}

// The running history's weight class: its unit u = U / w [MeV] and the word offset of its class record (runHistory).
var<private> histUnit: f32;
var<private> histClassWord: u32;

// Energy e [MeV] in integer units of the history, rounded half up (floor(x + 0.5) = Math.round for x >= 0; WGSL
// round() is half-to-even). The host guards that the largest energy of the problem stays below 2^32 of the smallest
// unit of its classes.
fn units(e: f32) -> u32 {
  return u32(floor(max(e, 0.0) / histUnit + 0.5));
}

fn deposit(v: u32, e: f32) {
  let q = units(e);
  if (q == 0u) {
    return;
  }
  let c = v / params.tallyChunkVoxels;
  add64(c, HEADER_WORDS + 2u * (v - c * params.tallyChunkVoxels), q);
}

// Per-history counters (64-bit as lo, hi), added to tally0's header once at the end of the history (one atomic
// pair per counter per history instead of one per event: every invocation adds to the same three words).
var<private> escapedLo: u32;
var<private> escapedHi: u32;
var<private> emittedLo: u32;
var<private> emittedHi: u32;
var<private> overflows: u32;

fn countEscaped(e: f32) {
  let q = units(e);
  escapedLo = escapedLo + q;
  escapedHi = escapedHi + select(0u, 1u, escapedLo < q);
}

fn countEmittedUnits(q: u32) {
  emittedLo = emittedLo + q;
  emittedHi = emittedHi + select(0u, 1u, emittedLo < q);
}

fn countOverflow() {
  overflows = overflows + 1u;
}

// Adds the 64-bit (lo, hi) to the header pair at word w of tally0.
fn flush64(w: u32, lo: u32, hi: u32) {
  var carry = 0u;
  if (lo != 0u) {
    let old = atomicAdd(&tally0[w], lo);
    carry = select(0u, 1u, old + lo < old);
  }
  if (hi + carry != 0u) {
    atomicAdd(&tally0[w + 1u], hi + carry);
  }
}

// Energy deposited in voxel vi, or escaped when vi is outside the grid (photons).
fn depositInVoxel(vi: vec3<i32>, e: f32) {
  if (insideGrid(vi)) {
    deposit(voxelIndex(vi), e);
  } else {
    countEscaped(e);
  }
}

// ---- particle stack ----
var<private> stE: array<f32, STACK_SIZE>;
var<private> stKind: array<u32, STACK_SIZE>;
var<private> stQ: array<vec3<f32>, STACK_SIZE>;
var<private> stD: array<vec3<f32>, STACK_SIZE>;
var<private> stV: array<vec3<i32>, STACK_SIZE>;
var<private> sp: u32;

fn pushElectron(e: f32, q: vec3<f32>, d: vec3<f32>, vi: vec3<i32>) {
  if (sp >= STACK_SIZE) {
    deposit(voxelIndex(vi), e);
    countOverflow();
    return;
  }
  stE[sp] = e;
  stKind[sp] = KIND_ELECTRON;
  stQ[sp] = q;
  stD[sp] = d;
  stV[sp] = vi;
  sp = sp + 1u;
}

fn pushPhoton(e: f32, q: vec3<f32>, d: vec3<f32>, vi: vec3<i32>) {
  if (sp >= STACK_SIZE) {
    depositInVoxel(vi, e);
    countOverflow();
    return;
  }
  stE[sp] = e;
  stKind[sp] = KIND_PHOTON;
  stQ[sp] = q;
  stD[sp] = d;
  stV[sp] = vi;
  sp = sp + 1u;
}

// ---- directions ----
fn isotropic() -> vec3<f32> {
  let cz = 2.0 * next() - 1.0;
  let phi = TWO_PI * next();
  let sz = sqrt(max(0.0, 1.0 - cz * cz));
  return vec3<f32>(sz * cos(phi), sz * sin(phi), cz);
}

// Rotates d by polar cos cosT and a uniform azimuth (one draw), renormalised (as rotate in src/kernel/transport.ts).
fn rotate(d: vec3<f32>, cosT: f32) -> vec3<f32> {
  let sinT = sqrt(max(0.0, 1.0 - cosT * cosT));
  let phi = TWO_PI * next();
  let cp = cos(phi);
  let sp_ = sin(phi);
  let u = d.x;
  let v = d.y;
  let w = d.z;
  let rho2 = u * u + v * v;
  var r: vec3<f32>;
  if (rho2 > 1e-20) {
    let rho = sqrt(rho2);
    r = vec3<f32>(u * cosT + (sinT * (u * w * cp - v * sp_)) / rho,
                  v * cosT + (sinT * (v * w * cp + u * sp_)) / rho,
                  w * cosT - rho * sinT * cp);
  } else {
    let sgn = select(-1.0, 1.0, w >= 0.0);
    r = vec3<f32>(sinT * cp, sinT * sp_, sgn * cosT);
  }
  let norm = 1.0 / sqrt(r.x * r.x + r.y * r.y + r.z * r.z);
  return r * norm;
}

// ---- electrons ----
// Continuous energy loss over s [cm]: two-point midpoint rule with the restricted stopping power.
fn energyLoss(m: u32, rho: f32, e: f32, s: f32) -> f32 {
  let dE1 = s * rho * rowAt(m, ROW_STOPPING, tablePos(e));
  let em = max(e - dE1 * 0.5, params.electronCutoffMeV);
  let dE = s * rho * rowAt(m, ROW_STOPPING, tablePos(em));
  return min(dE, e);
}

struct Boundary {
  t: f32,    // distance [cm] (>= 0)
  axis: u32, // 0, 1, 2
  step: i32, // +1 or -1
}

// From the in-voxel position q (the faces of the voxel are at q = 0 and q = voxel size).
fn distanceToBoundary(q: vec3<f32>, d: vec3<f32>) -> Boundary {
  let vc = vec3<f32>(params.voxelCmX, params.voxelCmY, params.voxelCmZ);
  var b = Boundary(3.0e38, 0u, 1);
  for (var a = 0u; a < 3u; a++) {
    var t: f32;
    var st: i32;
    if (d[a] > 1e-12) {
      t = (vc[a] - q[a]) / d[a];
      st = 1;
    } else if (d[a] < -1e-12) {
      t = -q[a] / d[a];
      st = -1;
    } else {
      continue;
    }
    t = max(t, 0.0);
    if (t < b.t) {
      b = Boundary(t, a, st);
    }
  }
  return b;
}

// Møller energy fraction eps of the delta ray (sampleMollerFraction in src/kernel/water.ts: two draws per trial).
fn sampleMollerFraction(e: f32, wc: f32) -> f32 {
  let tau = e / MC2_MEV;
  let gamma = tau + 1.0;
  let c1 = (tau / gamma) * (tau / gamma);
  let c2 = (2.0 * tau + 1.0) / (gamma * gamma);
  let e0 = wc / e;
  var eps = e0;
  for (var t = 0u; t < MAX_TRIALS; t++) {
    eps = e0 / (1.0 - next() * (1.0 - 2.0 * e0));
    let r = eps / (1.0 - eps);
    let g = 1.0 + r * r + c1 * eps * eps - c2 * r;
    if (next() * 2.25 <= g) {
      break;
    }
  }
  return eps;
}

const STEP_HARD: u32 = 0u;
const STEP_LIMIT: u32 = 1u;
const STEP_STOP: u32 = 2u;

fn transportElectron(e0: f32, q0: vec3<f32>, d0: vec3<f32>, vi0: vec3<i32>) {
  let vc = vec3<f32>(params.voxelCmX, params.voxelCmY, params.voxelCmZ);
  let eCut = params.electronCutoffMeV;
  var e = e0;
  var q = q0;
  var d = d0;
  var vi = vi0;
  var v = voxelIndex(vi);
  var word = mediumWord(v);
  var m = word >> 24u;
  var rho = f32(word & 0xFFFFFFu) * DENSITY_UNIT;
  for (var step = 0u; ; step++) {
    if (e <= eCut) {
      deposit(v, e);
      return;
    }
    if (step >= MAX_STEPS) {
      deposit(v, e);
      countOverflow();
      return;
    }
    let tp = tablePos(e);
    let lM = select(0.0, rho * rowAt(m, ROW_MOLLER, tp), e > 2.0 * params.deltaThresholdMeV);
    let lB = select(0.0, rho * rowAt(m, ROW_BREMS, tp), e > params.bremsThresholdMeV);
    let lE = rho * rowAt(m, ROW_EL_HARD, tp);
    let lT = lM + lB + lE;
    let sHard = -log(next()) / lT;
    let range = rowAt(m, ROW_RANGE, tp) / rho;
    let sStop = range - rowAt(m, ROW_RANGE, tablePos(eCut)) / rho;
    let sMax = min(params.maxStepCm, max(params.stepFraction * range, 1e-5));
    var s = sHard;
    var kind = STEP_HARD;
    if (sMax < s) {
      s = sMax;
      kind = STEP_LIMIT;
    }
    if (sStop <= s) {
      s = sStop;
      kind = STEP_STOP;
    }
    let tau = next() * s;
    var travelled: f32;
    var cross = false;
    var lossFull = -1.0; // energyLoss over the full step, when computed
    var bd = distanceToBoundary(q, d);
    if (bd.t < tau) {
      travelled = bd.t;
      q = q + d * bd.t;
      cross = true;
    } else {
      q = q + d * tau;
      // soft deflection at the hinge, with the soft T1 at the step's midpoint energy
      lossFull = energyLoss(m, rho, e, s);
      let em = e - lossFull * 0.5;
      let chi = s * rho * rowAt(m, ROW_EL_SOFT_T1, tablePos(em));
      let meanMu = 0.5 * (1.0 - exp(-chi));
      if (meanMu > 0.0) {
        var mu = 0.0;
        for (var t = 0u; t < MAX_TRIALS; t++) {
          mu = -meanMu * log(next());
          if (mu <= 1.0) {
            break;
          }
        }
        mu = min(mu, 1.0);
        d = rotate(d, 1.0 - 2.0 * mu);
      }
      bd = distanceToBoundary(q, d);
      if (bd.t < s - tau) {
        travelled = tau + bd.t;
        q = q + d * bd.t;
        cross = true;
      } else {
        q = q + d * (s - tau);
        travelled = s;
      }
    }
    if (kind == STEP_STOP && !cross) {
      deposit(v, e);
      return;
    }
    var dE = lossFull;
    if (cross || lossFull < 0.0) {
      dE = energyLoss(m, rho, e, travelled);
    }
    deposit(v, dE);
    e = e - dE;
    if (cross) {
      // onto the face, exactly: the far face of the new voxel going -, its near face going +
      let a = bd.axis;
      q[a] = select(vc[a], 0.0, bd.step > 0);
      vi[a] = vi[a] + bd.step;
      if (!insideGrid(vi)) {
        countEscaped(e);
        return;
      }
      v = voxelIndex(vi);
      word = mediumWord(v);
      m = word >> 24u;
      rho = f32(word & 0xFFFFFFu) * DENSITY_UNIT;
      continue;
    }
    if (kind != STEP_HARD) {
      continue;
    }
    // hard event at the end of the step; type from the rates at the step's start energy, physics at the current e
    let pick = next() * lT;
    if (pick < lM) {
      if (e > 2.0 * params.deltaThresholdMeV) {
        let eps = sampleMollerFraction(e, params.deltaThresholdMeV);
        let w = eps * e;
        let ep = e - w;
        let twoM = 2.0 * MC2_MEV;
        let cosP = sqrt(min(1.0, (ep / e) * ((e + twoM) / (ep + twoM))));
        let cosD = sqrt(min(1.0, (w / e) * ((e + twoM) / (w + twoM))));
        let old = d;
        d = rotate(d, cosP);
        // delta: in the plane of (old dir, new dir), on the other side of the old direction
        let sinP = sqrt(max(0.0, 1.0 - cosP * cosP));
        let sinD = sqrt(max(0.0, 1.0 - cosD * cosD));
        var dd = old;
        if (sinP > 1e-12) {
          let nrm = (d - cosP * old) / sinP;
          dd = cosD * old - sinD * nrm;
        }
        if (w <= eCut) {
          deposit(v, w);
        } else {
          pushElectron(w, q, dd, vi);
        }
        e = ep;
      }
    } else if (pick < lM + lB) {
      let kc = params.bremsThresholdMeV;
      if (e > kc) {
        var k = kc;
        for (var t = 0u; t < MAX_TRIALS; t++) {
          k = kc * pow(e / kc, next());
          let x = k / (e + MC2_MEV);
          let g = 1.0 + (1.0 - x) * (1.0 - x) - (2.0 / 3.0) * (1.0 - x);
          if (next() * (4.0 / 3.0) <= g) {
            break;
          }
        }
        pushPhoton(k, q, d, vi);
        e = e - k;
      }
    } else {
      let tpe = tablePos(e);
      let a = rowAt(m, ROW_EL_SCREEN, tpe);
      let muC = rowAt(m, ROW_EL_MUCUT, tpe);
      let c = rowAt(m, ROW_EL_MOTTC, tpe);
      let gamma = 1.0 + e / MC2_MEV;
      let beta2 = 1.0 - 1.0 / (gamma * gamma);
      let inv0 = 1.0 / (muC + a);
      let mu = 1.0 / (inv0 - next() * (inv0 - 1.0 / (1.0 + a))) - a;
      let sq = sqrt(max(mu, 0.0));
      let r = 1.0 - beta2 * mu + c * sq * (1.0 - sq);
      if (next() * (1.0 + c / 4.0) <= r) {
        d = rotate(d, 1.0 - 2.0 * mu);
      }
    }
  }
}

// ---- photons (Woodcock tracking against the problem's majorant) ----
fn transportPhoton(e0: f32, q0: vec3<f32>, d0: vec3<f32>, vi0: vec3<i32>) {
  let vc = vec3<f32>(params.voxelCmX, params.voxelCmY, params.voxelCmZ);
  var e = e0;
  var q = q0;
  var d = d0;
  var vi = vi0;
  for (var step = 0u; ; step++) {
    if (e <= params.photonCutoffMeV) {
      depositInVoxel(vi, e);
      return;
    }
    if (step >= MAX_STEPS) {
      depositInVoxel(vi, e);
      countOverflow();
      return;
    }
    let tp = tablePos(e);
    let muMax = lerpAt(params.majorantOff, tp);
    let s = -log(next()) / muMax;
    // the flight in voxel-local coordinates: whole voxels go to the index, the rest stays in q
    q = q + d * s;
    let shift = clamp(floor(q / vc), vec3<f32>(-1e6), vec3<f32>(1e6));
    vi = vi + vec3<i32>(shift);
    q = clamp(q - shift * vc, vec3<f32>(0.0), vc);
    if (!insideGrid(vi)) {
      countEscaped(e);
      return;
    }
    let v = voxelIndex(vi);
    let word = mediumWord(v);
    let m = word >> 24u;
    let rho = f32(word & 0xFFFFFFu) * DENSITY_UNIT;
    let mu = rho * rowAt(m, ROW_PH_TOTAL, tp);
    if (next() * muMax > mu) {
      continue; // virtual interaction
    }
    if (next() < rowAt(m, ROW_PH_PHOTO, tp)) {
      deposit(v, e); // photoelectron and fluorescence local
      return;
    }
    // Compton: Klein-Nishina by Kahn's method (Kahn 1954; Everett & Cashwell LA-5157), three draws per trial
    let k = e / MC2_MEV;
    var x = 1.0;
    for (var t = 0u; t < MAX_TRIALS; t++) {
      let r1 = next();
      let r2 = next();
      let r3 = next();
      if (r1 <= (1.0 + 2.0 * k) / (9.0 + 2.0 * k)) {
        x = 1.0 + 2.0 * k * r2;
        if (r3 <= 4.0 * (1.0 / x - 1.0 / (x * x))) {
          break;
        }
      } else {
        x = (1.0 + 2.0 * k) / (1.0 + 2.0 * k * r2);
        let c = 1.0 - (x - 1.0) / k;
        if (r3 <= 0.5 * (c * c + 1.0 / x)) {
          break;
        }
      }
    }
    let cosT = clamp(1.0 - (x - 1.0) / k, -1.0, 1.0);
    let ep = e / (1.0 + k * (1.0 - cosT));
    deposit(v, e - ep); // Compton electron local
    d = rotate(d, cosT);
    e = ep;
  }
}

// ---- one history ----
fn runHistory(hLo: u32, hHi: u32) {
  rngCounter = vec4<u32>(hLo, hHi, 0u, 0u);
  rngKey = vec2<u32>(params.seed, params.keyHi);
  rngIndex = 4u;
  sp = 0u;
  escapedLo = 0u;
  escapedHi = 0u;
  emittedLo = 0u;
  emittedHi = 0u;
  overflows = 0u;
  // 1. source voxel: k = floor((x1 2^32 + x2) n / 2^64) from two raw words (exact), then the alias draw
  let n = params.nSource;
  let x1 = nextU32();
  let x2 = nextU32();
  let lo1 = x1 * n;
  let hi1 = mulhi32(x1, n);
  let hi2 = mulhi32(x2, n);
  var k = hi1 + select(0u, 1u, lo1 + hi2 < lo1);
  if (next() >= dataF(params.srcProbOff + k)) {
    k = data[params.srcAliasOff + k];
  }
  // the history's weight class (source biasing; class 0 in an analog run): its unit and fixed emissions in units
  var cls = 0u;
  if (params.weighted != 0u) {
    cls = data[params.srcClassOff + k];
  }
  histClassWord = params.classOff + cls * (2u + params.nLines);
  histUnit = dataF(histClassWord);
  let v = data[params.srcVoxelOff + k];
  let nxy = params.nx * params.ny;
  let vi = vec3<i32>(i32(v % params.nx), i32((v / params.nx) % params.ny), i32(v / nxy));
  // position in the voxel (the CPU's x = (i + u) vx, less the voxel's corner i vx)
  let qx = next() * params.voxelCmX;
  let qy = next() * params.voxelCmY;
  let qz = next() * params.voxelCmZ;
  let q = vec3<f32>(qx, qy, qz);
  // 2. energy deposited at the decay site (its units rounded by the host in f64, as the CPU rounds it)
  if (params.localMeVPerDecay > 0.0) {
    let localUnits = data[histClassWord + 1u];
    if (localUnits != 0u) {
      let c = v / params.tallyChunkVoxels;
      add64(c, HEADER_WORDS + 2u * (v - c * params.tallyChunkVoxels), localUnits);
    }
    countEmittedUnits(localUnits);
  }
  // 3. beta (the first draw is made whatever betasPerDecay is)
  if (next() < params.betasPerDecay) {
    let f = next() * f32(params.betaN - 1u);
    let i = min(u32(floor(f)), params.betaN - 2u);
    let w = f - f32(i);
    let a = dataF(params.betaOff + i);
    let b = dataF(params.betaOff + i + 1u);
    let e = a + w * (b - a);
    let d = isotropic();
    countEmittedUnits(units(e));
    pushElectron(e, q, d, vi);
  }
  // 4. photon lines in table order
  for (var l = 0u; l < params.nLines; l++) {
    let el = dataF(params.linesOff + 2u * l);
    let y = dataF(params.linesOff + 2u * l + 1u);
    if (next() < y) {
      let d = isotropic();
      countEmittedUnits(data[histClassWord + 2u + l]);
      pushPhoton(el, q, d, vi);
    }
  }
  // 5. transport, last in first out
  while (sp > 0u) {
    sp = sp - 1u;
    if (stKind[sp] == KIND_ELECTRON) {
      transportElectron(stE[sp], stQ[sp], stD[sp], stV[sp]);
    } else {
      transportPhoton(stE[sp], stQ[sp], stD[sp], stV[sp]);
    }
  }
  flush64(0u, escapedLo, escapedHi);
  flush64(2u, emittedLo, emittedHi);
  flush64(4u, overflows, 0u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = (wid.x + wid.y * nwg.x) * WG + lid;
  if (g >= params.count) {
    return;
  }
  let hLo = params.firstLo + g;
  let hHi = params.firstHi + select(0u, 1u, hLo < g);
  runHistory(hLo, hHi);
}
