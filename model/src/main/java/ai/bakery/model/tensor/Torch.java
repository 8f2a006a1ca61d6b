package ai.bakery.model.tensor;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.openblas.presets.openblas_nolapack;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * One libtorch for two APIs. DJL gives NDArray, NDManager scopes and autograd; JavaCPP's presets give what
 * DJL lacks (bf16, fused attention, rms_norm, raw data pointers). Both must run on the same libtorch, so
 * JavaCPP's copy is loaded first and DJL is pointed at it before its engine starts.
 *
 * <p>A DJL {@code PtNDArray} handle is a {@code torch::Tensor*}: {@link #view} wraps it without a copy, and
 * {@link #adopt} hands a JavaCPP result to DJL as a heap copy of the (ref-counted) tensor that DJL then owns.
 */
public final class Torch {
  private static volatile Engine engine;

  private Torch() {}

  /** Loads libtorch once and starts DJL's PyTorch engine on it. Idempotent and thread safe. */
  public static Engine init() {
    Engine e = engine;
    if (e != null) {
      return e;
    }
    synchronized (Torch.class) {
      if (engine == null) {
        Loader.load(torch.class);
        Path libs = libraryDir();
        System.setProperty("PYTORCH_LIBRARY_PATH", libs.toString());
        System.setProperty("PYTORCH_VERSION", "2.7.1");
        System.setProperty("PYTORCH_FLAVOR", "cpu");
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("ai.djl.default_engine", "PyTorch");
        System.setProperty("ai.djl.pytorch.graph_optimizer", "false");
        engine = Engine.getEngine("PyTorch");
        int threads = Integer.getInteger("bakery.threads", Runtime.getRuntime().availableProcessors());
        torch.set_num_threads(threads);
        setBlasThreads(Integer.getInteger("bakery.blas_threads", 1));
      }
      return engine;
    }
  }

  /**
   * Threads of the BLAS that libtorch's fp32 GEMMs call (JavaCPP links OpenBLAS built with its own pthread
   * pool, apart from libtorch's OpenMP pool). libtorch calls that BLAS from inside its OpenMP regions (the CPU
   * flash-attention kernels run one small GEMM per block on every OpenMP thread); with more than one BLAS
   * thread those calls queue on OpenBLAS's server lock while both pools spin against each other, which made a
   * 1k-token causal SDPA 10-20x slower. One BLAS thread per caller keeps one pool busy per core.
   */
  public static void setBlasThreads(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("bakery.blas_threads must be >= 1, got " + n);
    }
    openblas_nolapack.blas_set_num_threads(n);
  }

  /** The BLAS thread count now in force (-1 where the BLAS offers no query). */
  public static int blasThreads() {
    return openblas_nolapack.blas_get_num_threads();
  }

  /** The folder JavaCPP extracted its libtorch into. */
  static Path libraryDir() {
    try {
      Path cache = Loader.getCacheDir().toPath();
      try (var walk = Files.walk(cache)) {
        return walk.filter(p -> p.getFileName().toString().equals("libtorch_cpu.so"))
            .filter(p -> p.toString().contains("pytorch-2.7.1"))
            .findFirst()
            .orElseThrow(() -> new IllegalStateException("libtorch_cpu.so not found under " + cache))
            .getParent();
      }
    } catch (java.io.IOException ex) {
      throw new IllegalStateException("cannot locate JavaCPP's libtorch", ex);
    }
  }

  /** The same tensor as a JavaCPP object, no copy, not owned: valid while {@code array} is open. */
  public static Tensor view(NDArray array) {
    long handle = ((PtNDArray) array).getHandle();
    return new Tensor(new Pointer() {
      {
        address = handle;
      }
    });
  }

  /**
   * Hands a JavaCPP tensor to DJL: {@code manager} owns the result. The JavaCPP object {@code t} is released
   * here (the storage is ref-counted, so the returned array keeps it alive).
   */
  public static NDArray adopt(Tensor t, NDManager manager) {
    Tensor heap = new Tensor(t);
    // A PointerScope open around this call attached the copy; closing it would free what DJL now owns.
    // Detaching releases one reference, so take one first.
    PointerScope scope = PointerScope.getInnerScope();
    if (scope != null) {
      heap.retainReference();
      scope.detach(heap);
    }
    heap.deallocate(false);
    long address = heap.address();
    t.close();
    return new PtNDArray((PtNDManager) manager, address);
  }
}
