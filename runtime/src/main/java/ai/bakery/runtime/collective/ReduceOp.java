package ai.bakery.runtime.collective;

/** Reductions of all-reduce and reduce-scatter. AVG on INT64 truncates toward zero, as NCCL does. */
public enum ReduceOp {
  SUM,
  AVG,
  MAX
}
