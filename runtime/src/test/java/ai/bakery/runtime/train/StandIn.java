package ai.bakery.runtime.train;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.BagelOutput;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.runtime.metrics.FlopCounter;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * A small stand-in for BAGEL in trainer tests: a 2-layer MLP language model over packed text (CE at the CE
 * positions) with a latent head regressed onto libtorch-generated noise at the MSE positions, so that both loss
 * terms and the seeded randomness path are exercised. A pack whose first sample key is {@code "poison"} makes
 * the loss NaN.
 */
final class StandIn {
  static final int VOCAB = 12;
  static final int DIM = 8;
  static final int HIDDEN = 16;
  static final int LATENT = 4;

  private StandIn() {}

  static final class Model implements TrainModel, AutoCloseable {
    final ParameterStore store;

    Model(NDManager parent, long seed) {
      store = new ParameterStore(parent);
      Random r = new Random(seed);
      store.create("language_model.embed.weight", new Shape(VOCAB, DIM), m -> m.create(gauss(r, VOCAB * DIM, 0.5f),
          new Shape(VOCAB, DIM)));
      store.create("language_model.fc1.weight", new Shape(DIM, HIDDEN), m -> m.create(gauss(r, DIM * HIDDEN, 0.3f),
          new Shape(DIM, HIDDEN)));
      store.create("language_model.fc1.bias", new Shape(HIDDEN), m -> m.zeros(new Shape(HIDDEN)));
      store.create("language_model.fc2.weight", new Shape(HIDDEN, VOCAB),
          m -> m.create(gauss(r, HIDDEN * VOCAB, 0.3f), new Shape(HIDDEN, VOCAB)));
      store.create("llm2vae.weight", new Shape(HIDDEN, LATENT), m -> m.create(gauss(r, HIDDEN * LATENT, 0.3f),
          new Shape(HIDDEN, LATENT)));
    }

    @Override
    public ParameterStore store() {
      return store;
    }

    @Override
    public BagelOutput forward(PackedBatch b, NDManager step) {
      NDArray ids = step.create(b.packedTextIds());
      NDArray x = ids.oneHot(VOCAB).matMul(store.get("language_model.embed.weight").value()); // (T, D)
      NDArray h = x.matMul(store.get("language_model.fc1.weight").value())
          .add(store.get("language_model.fc1.bias").value()).tanh(); // (T, H)
      if (b.sampleKeys().length > 0 && b.sampleKeys()[0].equals("poison")) {
        h = h.mul(Float.NaN);
      }
      int t = b.sequenceLength();
      NDArray ce = null;
      if (b.ceLossIndexes().length > 0) {
        NDArray rows = step.create(b.ceLossIndexes()).oneHot(t).matMul(h); // (Nce, H)
        NDArray logp = rows.matMul(store.get("language_model.fc2.weight").value()).logSoftmax(-1);
        ce = logp.mul(step.create(b.packedLabelIds()).oneHot(VOCAB)).sum(new int[] {1}).neg(); // (Nce)
      }
      NDArray mse = null;
      if (b.mseLossIndexes().length > 0) {
        NDArray rows = step.create(b.mseLossIndexes()).oneHot(t).matMul(h);
        NDArray pred = rows.matMul(store.get("llm2vae.weight").value()); // (Nmse, L)
        NDArray noise = step.randomNormal(pred.getShape()).mul(0.1).add(0.5);
        mse = pred.sub(noise).square();
      }
      return new BagelOutput(ce, mse, b.ceLossIndexes().length, b.mseLossIndexes().length);
    }

    /** 6 FLOPs per weight per token (no attention): enough to exercise the MFU path. */
    @Override
    public FlopCounter flops() {
      return new FlopCounter(6.0 * store.numel(), 0);
    }

    @Override
    public void close() {
      store.close();
    }
  }

  static float[] gauss(Random r, int n, float scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian() * scale;
    }
    return v;
  }

  /** A text pack: samples of the given lengths, CE on every token but each sample's last, MSE on the last 2. */
  static PackedBatch pack(int[] ids, int[] sampleLens, String key) {
    int t = ids.length;
    int[] ce = IntStream.range(0, t).filter(i -> !isLastOfSample(i, sampleLens)).toArray();
    int[] labels = Arrays.stream(ce).map(i -> ids[i + 1]).toArray();
    int[] mse = IntStream.range(0, t).filter(i -> i % 8 >= 6).toArray();
    float[] weights = new float[ce.length];
    Arrays.fill(weights, 1f);
    String[] modes = new String[sampleLens.length];
    Arrays.fill(modes, "causal");
    String[] keys = new String[sampleLens.length];
    Arrays.fill(keys, key);
    int[] range = IntStream.range(0, t).toArray();
    return new PackedBatch(t, sampleLens, sampleLens.clone(), modes, ids, range, range, new float[0], new int[0],
        new int[0], new int[0], new int[0], new float[0], mse, new float[0], 0, new int[0], new int[0], new int[0],
        labels, ce, weights, keys);
  }

  private static boolean isLastOfSample(int i, int[] sampleLens) {
    int end = 0;
    for (int len : sampleLens) {
      end += len;
      if (i == end - 1) {
        return true;
      }
    }
    return false;
  }

  /** A learnable sequence: each token is the previous plus a per-sample step, so next-token CE can fall. */
  static int[] sequence(Random r, int len) {
    int[] ids = new int[len];
    int start = r.nextInt(VOCAB);
    int stride = 1 + r.nextInt(2);
    for (int i = 0; i < len; i++) {
      ids[i] = (start + i * stride) % VOCAB;
    }
    return ids;
  }

  /** Pack {@code i} of a deterministic stream: two 8-token samples. */
  static PackedBatch packAt(long seed, long i) {
    Random r = new Random(seed * 1_000_003L + i);
    int[] a = sequence(r, 8);
    int[] b = sequence(r, 8);
    int[] ids = new int[16];
    System.arraycopy(a, 0, ids, 0, 8);
    System.arraycopy(b, 0, ids, 8, 8);
    return pack(ids, new int[] {8, 8}, "s" + i);
  }

  /** A restorable stream of {@link #packAt} packs; the position is the index of the next pack. */
  static final class Source implements BatchSource {
    final long seed;
    long next;

    Source(long seed, long next) {
      this.seed = seed;
      this.next = next;
    }

    static BatchSource.Factory factory(long seed) {
      return position -> new Source(seed, position == null ? 0
          : Long.parseLong(position.replaceAll("[^0-9]", "")));
    }

    @Override
    public PackedBatch next() {
      return packAt(seed, next++);
    }

    @Override
    public String position() {
      return "{\"next\":" + next + "}";
    }

    @Override
    public long skippedSamples() {
      return 0;
    }

    @Override
    public void close() {}
  }
}
