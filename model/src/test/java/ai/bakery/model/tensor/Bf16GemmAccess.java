package ai.bakery.model.tensor;

/** Test access to {@link Bf16Gemm}'s cpuinfo parsing. */
public final class Bf16GemmAccess {
  private Bf16GemmAccess() {}

  public static boolean hasBf16(Iterable<String> cpuinfo) {
    return Bf16Gemm.hasBf16(cpuinfo);
  }
}
