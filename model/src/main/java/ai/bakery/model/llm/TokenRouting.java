package ai.bakery.model.llm;

import ai.bakery.model.nn.Rows;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Which tokens of a pack take the understanding weights (text and ViT tokens) and which the generation
 * weights (VAE latent tokens), as the reference's {@code packed_und_token_indexes} and
 * {@code packed_gen_token_indexes}. Rows move by gathers only: {@link #merge} concatenates the two branches
 * and gathers them back into pack order, so autograd reaches each branch's weights and no other.
 */
public final class TokenRouting {
  private final int total;
  private final NDArray und;
  private final NDArray gen;
  private final NDArray restore;
  private final int numUnd;
  private final int numGen;

  private TokenRouting(int total, NDArray und, NDArray gen, NDArray restore, int numUnd, int numGen) {
    this.total = total;
    this.und = und;
    this.gen = gen;
    this.restore = restore;
    this.numUnd = numUnd;
    this.numGen = numGen;
  }

  /**
   * @param total tokens in the pack
   * @param undIndexes positions of understanding tokens
   * @param genIndexes positions of generation tokens; together with undIndexes every position exactly once
   * @param manager the step's manager, owning the index arrays
   */
  public static TokenRouting of(int total, int[] undIndexes, int[] genIndexes, NDManager manager) {
    int[] restore = new int[total];
    java.util.Arrays.fill(restore, -1);
    int slot = 0;
    for (int[] part : new int[][] {undIndexes, genIndexes}) {
      for (int p : part) {
        if (p < 0 || p >= total) {
          throw new IllegalArgumentException("token index " + p + " outside the pack of " + total);
        }
        if (restore[p] >= 0) {
          throw new IllegalArgumentException("token " + p + " is routed twice (und and gen indexes overlap)");
        }
        restore[p] = slot++;
      }
    }
    if (slot != total) {
      for (int p = 0; p < total; p++) {
        if (restore[p] < 0) {
          throw new IllegalArgumentException("token " + p + " is neither an und (text/ViT) nor a gen (VAE) token; "
              + "every token of the pack must be one of them");
        }
      }
    }
    return new TokenRouting(total, manager.create(toLong(undIndexes)), manager.create(toLong(genIndexes)),
        manager.create(toLong(restore)), undIndexes.length, genIndexes.length);
  }

  /** Every token is an understanding token (no generation tokens in the pack). */
  public static TokenRouting allUnd(int total, NDManager manager) {
    int[] all = new int[total];
    for (int i = 0; i < total; i++) {
      all[i] = i;
    }
    return of(total, all, new int[0], manager);
  }

  /** @param x (T, ...) @return the understanding rows, in und index order */
  public NDArray und(NDArray x) {
    return Rows.select(x, und, x.getManager());
  }

  /** @param x (T, ...) @return the generation rows, in gen index order */
  public NDArray gen(NDArray x) {
    return Rows.select(x, gen, x.getManager());
  }

  /** Puts branch rows back in pack order; either branch may be null when it has no rows. */
  public NDArray merge(NDArray undRows, NDArray genRows) {
    if (numGen == 0) {
      return Rows.select(undRows, restore, undRows.getManager());
    }
    if (numUnd == 0) {
      return Rows.select(genRows, restore, genRows.getManager());
    }
    return Rows.select(undRows.concat(genRows, 0), restore, undRows.getManager());
  }

  /** Applies {@code undOp} to und rows and {@code genOp} to gen rows, then restores pack order. */
  public NDArray route(NDArray x, java.util.function.UnaryOperator<NDArray> undOp,
      java.util.function.UnaryOperator<NDArray> genOp) {
    NDArray u = numUnd == 0 ? null : undOp.apply(und(x));
    NDArray g = numGen == 0 ? null : genOp.apply(gen(x));
    return merge(u, g);
  }

  public int total() {
    return total;
  }

  public int numUnd() {
    return numUnd;
  }

  public int numGen() {
    return numGen;
  }

  /** Understanding token positions (int64), on the step's manager. */
  public NDArray undIndexes() {
    return und;
  }

  /** Generation token positions (int64), on the step's manager. */
  public NDArray genIndexes() {
    return gen;
  }

  private static long[] toLong(int[] a) {
    long[] out = new long[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i];
    }
    return out;
  }
}
