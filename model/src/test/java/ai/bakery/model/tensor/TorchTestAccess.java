package ai.bakery.model.tensor;

/** Test access to resident-memory readings for leak tests in other packages. */
public final class TorchTestAccess {
  private TorchTestAccess() {}

  public static long rss() {
    return TorchTest.rss();
  }
}
