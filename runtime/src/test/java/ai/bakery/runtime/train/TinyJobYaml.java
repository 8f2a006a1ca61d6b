package ai.bakery.runtime.train;

import java.nio.file.Path;

/** YAML pieces shared by the tests that train the tiny preset on the generated example dataset. */
final class TinyJobYaml {
  private TinyJobYaml() {}

  /** The data section (small packs so a step takes a second) and the start of the training section. */
  static String dataAndOptimizer(Path exampleDir) {
    return String.join("\n",
        "data:",
        "  dataset_config_file: " + exampleDir.resolve("example.yaml"),
        "  packing:",
        "    expected_num_tokens: 256",
        "    max_num_tokens: 768",
        "    max_num_tokens_per_sample: 512",
        "    prefer_buffer_before: 128",
        "    max_buffer_size: 4",
        "training:",
        "  optimizer:",
        "    lr: 2.0e-3");
  }
}
