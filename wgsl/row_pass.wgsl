// row_pass: one pass over the rows of a batch, the first of a step's kernels (or, for a graph
// whose rows wait for a sum over rows, one of several). For the rows of the current batch that lie
// in this chunk of the data (ROWS rows from row CHUNK_START, each with every data input's values
// in its records: the wide inputs' in data4, the narrow ones' in data1), each invocation walks its share of the rows, computes
// the row's values of the graph's row nodes in registers (the code below is generated from the
// graph, every line naming its node) and accumulates the pass's sums over rows. Then the
// workgroup adds its invocations' P sums as a tree in shared memory and writes them, at their
// place among all passes' (PASS_AT of TOTALS), as row GROUP_BASE + workgroup of `partials`; the
// next pass or the finishing kernel finishes the sums.
//
// Batches: batch control[C_BATCH] covers positions [b BATCH, (b + 1) BATCH) of the N rows; with
// SHUFFLE, position p is row permute(p) of this epoch's permutation, drawn here from the seed and
// the epoch. WHOLE takes all N rows (the validation set). Full-batch training is BATCH = N.
//
// A pass after the first first adds up the sums of the passes before it from every workgroup's
// partials (each workgroup on its own) into `totals`, which its row code reads.
//
// Many models at once: the workgroups of row y of the dispatch work for replicate y of
// REPLICATES, with its slice of params, its counters, its REPLICA_GROUPS rows of partials and,
// with BOOTSTRAP, its own resample drawn from (seed, y), as tiny.wgsl draws it.
//
// Row layout: CONTIGUOUS gives each invocation its own run of positions (fastest on CPU adapters
// such as lavapipe, with few workgroups); otherwise a grid stride (GPUs). The planner picks.
//
// What differs between the chunks of the data (and between the two row layouts) comes in the
// uniform block `chunk`, not as override constants: every chunk's dispatch, and both layouts'
// trial, run the same pipeline, so the driver compiles a pass once, not once a chunk.

{{TEAM}}{{CONTROL}}

override WG: u32 = 64;
override N: u32;
override BATCH: u32;
override SHUFFLE: bool = false;
override HALF: u32 = 1u;
override WHOLE: bool = false;
// With replicates: each one's resample.
override BOOTSTRAP: bool = false;
override RESIDUALS: bool = false;
// Where the residual rows start in data1, after the float records (in floats).
override RESIDUALS_AT: u32 = 0u;

// This dispatch's chunk: its ROWS rows from row CHUNK_START; its workgroups' first row of partials
// (GROUP_BASE); where its float records start in data1, after its vec4 records (SCALAR_AT); the
// row layout; the rows of partials all chunks' workgroups write per replicate (GROUPS) and, with
// replicates, the stride between replicates' rows (REPLICA_GROUPS, 0 for one model).
struct Chunk {
  start: u32,
  rows: u32,
  group_base: u32,
  scalar_at: u32,
  contiguous: u32,
  groups: u32,
  replica_groups: u32,
  unused: u32,
}

// From the graph: parameters per model; this pass's sums, where they start among all passes'
// and how many there are; a row's records (vec4s, floats) and a residual row (floats).
const COUNT: u32 = {{COUNT}}u;
const P: u32 = {{P}}u;
const PASS_AT: u32 = {{PASS_AT}}u;
const TOTALS: u32 = {{TOTALS}}u;
const VEC_STRIDE: u32 = {{VEC_STRIDE}}u;
const SCALAR_STRIDE: u32 = {{SCALAR_STRIDE}}u;
const RESIDUAL_STRIDE: u32 = {{RESIDUAL_STRIDE}}u;

@group(0) @binding(0) var<storage, read> params: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<storage, read> control: array<u32>;
@group(0) @binding(3) var<uniform> chunk: Chunk;
// This chunk's rows (then, with RESIDUALS, the N residual rows).
{{DATA}}

{{TREE}}

// (diverged, first position, end position, shuffle key), read once by invocation 0.
var<workgroup> batch: vec4u;
var<workgroup> seed: u32;
{{EARLIER_DECL}}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) lid: u32,
{{LANE}}  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let CHUNK_START = chunk.start;
  let ROWS = chunk.rows;
  let GROUP_BASE = chunk.group_base;
  let SCALAR_AT = chunk.scalar_at;
  let CONTIGUOUS = chunk.contiguous != 0u;
  let GROUPS = chunk.groups;
  let REPLICA_GROUPS = chunk.replica_groups;
  replica = wid.y;
  let ctr = counters(replica);
  if (lid == 0u) {
    let b = select(control[ctr.batch], 0u, WHOLE);
    let begin = select(b * BATCH, 0u, WHOLE);
    let end = select(min(N, begin + BATCH), N, WHOLE);
    batch = vec4u(select(control[ctr.diverged], 0u, WHOLE), begin, end, epoch_key(control[C_SEED], control[ctr.total]));
    seed = control[C_SEED];
  }
  let info = workgroupUniformLoad(&batch);
  if (info.x != 0u) {
    return;
  }
{{FINISH_EARLIER}}
  let shuffled = SHUFFLE && !WHOLE;
  let boot = BOOTSTRAP && !WHOLE;
  let rows_f = f32(info.z - info.y);
  let short_batch = info.z - info.y != BATCH && !WHOLE;
  // Without a shuffle or a pairs resample, only the positions inside this chunk; with either, every
  // position of the batch, skipping the rows that lie in other chunks.
  let moved = shuffled || (boot && !RESIDUALS);
  var first = info.y;
  var last = info.z;
  if (!moved) {
    first = max(first, CHUNK_START);
    last = max(first, min(last, CHUNK_START + ROWS));
  }
  let base = replica * COUNT;
  // The values without rows this pass's row code reads.
{{PROLOGUE}}
{{ACCUMULATORS}}
{{READERS}}
  let count = last - first;
  var begin = me;
  var end = count;
  var step = threads;
  if (CONTIGUOUS) {
    let run = (count + threads - 1u) / threads;
    begin = min(me * run, count);
    end = min(begin + run, count);
    step = 1u;
  }
  for (var q = begin; q < end; q += step) {
    let pick = pick_row(first + q, N, HALF, shuffled, info.w, boot, RESIDUALS, seed);
    // (Tested only when rows move: on lavapipe the test alone cost a third of the kernel's time.)
    if (moved && (pick.x < CHUNK_START || pick.x >= CHUNK_START + ROWS)) {
      continue;
    }
    let row = pick.x - CHUNK_START;
{{RECORD}}
    let res_at = RESIDUALS_AT + pick.y * RESIDUAL_STRIDE;
{{ROW}}
  }

{{STORE}}
}
