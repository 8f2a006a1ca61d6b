package ai.bakery.data.sample;

/** A piece of a {@link Sample}: text, or an image with the roles it plays. */
public sealed interface SampleItem permits SampleItem.Text, SampleItem.Image {

  /**
   * Text of one turn or caption.
   *
   * @param loss whether its tokens carry CE loss (assistant / gpt turns)
   * @param droppable whether classifier-free-guidance dropout may drop it (text_cond_dropout_prob)
   */
  record Text(String text, boolean loss, boolean droppable) implements SampleItem {}

  /**
   * An image (or one video frame).
   *
   * @param source where its pixels come from; decoded lazily by the planner
   * @param vit fed to the ViT as an understanding input (droppable by vit_cond_dropout_prob when a
   *     generation target follows)
   * @param vaeCondition fed to the VAE as a clean condition (timestep -inf, attn mode full; droppable by
   *     vae_cond_dropout_prob)
   * @param vaeTarget a generation target: noised latents with MSE loss (attn mode noise)
   */
  record Image(ImageSource source, boolean vit, boolean vaeCondition, boolean vaeTarget) implements SampleItem {}
}
