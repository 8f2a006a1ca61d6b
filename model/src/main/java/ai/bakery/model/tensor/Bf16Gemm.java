package ai.bakery.model.tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * Whether this CPU multiplies bf16 matrices natively. libtorch sends a bf16 GEMM to oneDNN only where the CPU
 * has bf16 dot-product instructions (x86: AVX512_BF16, AMX or AVX-NE-CONVERT; Arm: BF16); elsewhere it runs a
 * generic loop 6-60x slower than the fp32 BLAS GEMM. Without them a bf16 matmul is better done as an fp32 GEMM
 * of the bf16-rounded operands, rounded back to bf16: the same numbers a native bf16 GEMM gives (bf16 inputs,
 * fp32 accumulation, bf16 result), at the fp32 rate. {@code -Dbakery.bf16_gemm=native|fp32} overrides the
 * detection.
 */
public final class Bf16Gemm {
  private static final Set<String> X86_FLAGS = Set.of("avx512_bf16", "amx_bf16", "avx_ne_convert");
  private static final boolean NATIVE = detect();

  private Bf16Gemm() {}

  /** True when bf16 GEMMs should run as bf16 in libtorch; false when they should run as fp32 GEMMs. */
  public static boolean isNative() {
    return NATIVE;
  }

  private static boolean detect() {
    String forced = System.getProperty("bakery.bf16_gemm", "").trim().toLowerCase(Locale.ROOT);
    switch (forced) {
      case "":
        break;
      case "native":
        return true;
      case "fp32":
        return false;
      default:
        throw new IllegalArgumentException("bakery.bf16_gemm must be native or fp32, got '" + forced + "'");
    }
    Path cpuinfo = Path.of("/proc/cpuinfo");
    if (!Files.isReadable(cpuinfo)) {
      return true; // no way to tell: leave libtorch its own choice
    }
    try {
      return hasBf16(Files.readAllLines(cpuinfo));
    } catch (IOException e) {
      return true;
    }
  }

  /** Reads the first CPU's x86 {@code flags} or Arm {@code Features} line. */
  static boolean hasBf16(Iterable<String> cpuinfo) {
    for (String line : cpuinfo) {
      int colon = line.indexOf(':');
      if (colon < 0) {
        continue;
      }
      String key = line.substring(0, colon).trim();
      if (!key.equals("flags") && !key.equals("Features")) {
        continue;
      }
      for (String flag : line.substring(colon + 1).trim().split("\\s+")) {
        if (X86_FLAGS.contains(flag) || (key.equals("Features") && flag.equals("bf16"))) {
          return true;
        }
      }
      return false;
    }
    return true;
  }
}
