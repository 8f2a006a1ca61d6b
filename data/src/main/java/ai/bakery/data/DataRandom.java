package ai.bakery.data;

/**
 * A seeded generator whose whole state is one {@code long} (SplitMix64), so a data position can save and
 * restore it exactly. Not thread-safe; each stream owns its own.
 */
public final class DataRandom {
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  private long state;

  public DataRandom(long seed) {
    this.state = seed;
  }

  /** A generator for one named purpose, independent of others derived from the same seed. */
  public static DataRandom derive(long seed, String purpose) {
    return new DataRandom(mix(seed ^ mix(purpose.hashCode() * GOLDEN + purpose.length())));
  }

  /** A well-spread 64-bit hash of a seed and a string (a sample key, a group name). */
  public static long hash(long seed, String text) {
    long h = mix(seed + GOLDEN);
    for (int i = 0; i < text.length(); i++) {
      h = mix(h ^ text.charAt(i));
    }
    return h;
  }

  public long nextLong() {
    state += GOLDEN;
    return mix(state);
  }

  /** Uniform in [0, 1), 53 bits. */
  public double nextDouble() {
    return (nextLong() >>> 11) * 0x1.0p-53;
  }

  /** Uniform in [0, bound). */
  public int nextInt(int bound) {
    if (bound <= 0) {
      throw new IllegalArgumentException("bound must be positive, got " + bound);
    }
    return (int) Math.floorMod(nextLong(), (long) bound);
  }

  /** Standard normal by Box-Muller; no cached second value, so the state stays one long. */
  public double nextGaussian() {
    double u1 = 1.0 - nextDouble(); // (0, 1]
    double u2 = nextDouble();
    return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
  }

  public long state() {
    return state;
  }

  public void restore(long savedState) {
    this.state = savedState;
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
