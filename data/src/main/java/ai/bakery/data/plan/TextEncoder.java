package ai.bakery.data.plan;

/** Text to token ids without special tokens (the tokenizer's plain encode). */
@FunctionalInterface
public interface TextEncoder {
  int[] encode(String text);
}
