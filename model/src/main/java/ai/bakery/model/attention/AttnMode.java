package ai.bakery.model.attention;

/** How the tokens of one split of a packed sample attend, as the reference's {@code attn_modes}. */
public enum AttnMode {
  /** Text: each token sees every earlier visible token of its sample and the earlier tokens of its split. */
  CAUSAL,
  /** ViT images and clean VAE conditions: the split sees itself fully plus everything visible before it. */
  FULL,
  /** Noised VAE targets: like FULL, but hidden from every other split of the sample. */
  NOISE;

  public static AttnMode parse(String s) {
    return switch (s) {
      case "causal" -> CAUSAL;
      case "full" -> FULL;
      case "noise" -> NOISE;
      default -> throw new IllegalArgumentException("unknown attn mode '" + s + "' (causal, full, noise)");
    };
  }

  public String wireName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
