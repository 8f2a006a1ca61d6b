package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;

/**
 * Token budgets of the reference packer ({@code DataArguments} / {@code TrainingArguments}): a pack is emitted
 * once it holds {@code expectedNumTokens}, never exceeds {@code maxNumTokens}; samples over
 * {@code maxNumTokensPerSample} are skipped; overflow waits in a buffer of {@code maxBufferSize} samples that is
 * drained first while the pack is under {@code preferBufferBefore} tokens.
 */
public record PackingOptions(
    int expectedNumTokens, int maxNumTokens, int maxNumTokensPerSample, int preferBufferBefore, int maxBufferSize) {

  public static final PackingOptions DEFAULTS = new PackingOptions(32768, 36864, 16384, 16384, 50);

  public PackingOptions {
    String at = "data.packing.";
    Checks.positive(at + "expected_num_tokens", expectedNumTokens);
    Checks.positive(at + "max_num_tokens", maxNumTokens);
    Checks.positive(at + "max_num_tokens_per_sample", maxNumTokensPerSample);
    Checks.nonNegative(at + "prefer_buffer_before", preferBufferBefore);
    Checks.nonNegative(at + "max_buffer_size", maxBufferSize);
    if (expectedNumTokens > maxNumTokens) {
      throw new ConfigException(at + "expected_num_tokens (" + expectedNumTokens + ") must be <= max_num_tokens ("
          + maxNumTokens + ")");
    }
    if (maxNumTokensPerSample > maxNumTokens) {
      throw new ConfigException(at + "max_num_tokens_per_sample (" + maxNumTokensPerSample
          + ") must be <= max_num_tokens (" + maxNumTokens + "): such a sample could never be packed");
    }
  }
}
