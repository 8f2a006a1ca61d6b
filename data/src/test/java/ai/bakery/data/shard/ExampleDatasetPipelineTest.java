package ai.bakery.data.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataPipeline;
import ai.bakery.data.example.ExampleDataset;
import ai.bakery.data.group.PipelineFactory;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import ai.bakery.data.text.TextTokenizer;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole stack on the example dataset: real parquet/JSONL readers, tokenizer and bicubic transforms. */
class ExampleDatasetPipelineTest {
  @Test
  void packsTheExampleWithEverySplitKindAndResumes(@TempDir Path dir) throws Exception {
    ExampleDataset.Summary example = ExampleDataset.write(dir, ExampleDataset.Options.DEFAULTS);
    DataConfig config = DataConfig.defaults().withTokens(600, 700, 500, 300, 5).withLoading(2, 2, 11)
        .withRowsPerUnit(8);
    try (TextTokenizer tokenizer = TextTokenizer.tiny()) {
      PipelineFactory factory = PipelineFactory.standard(config, tokenizer);
      List<GroupSpec> groups = factory.fromYamlFile(example.groupsYaml(), null);
      Set<String> modes = new HashSet<>();
      Set<String> datasets = new HashSet<>();
      PackedBatch[] straight = new PackedBatch[8];
      ai.bakery.data.shard.DataPosition saved = null;
      try (DataPipeline p = DataPipeline.builder().setGroups(groups).setConfig(config)
          .setTokens(tokenizer.specialTokens()).setRank(1, 2).build()) {
        for (int i = 0; i < straight.length; i++) {
          straight[i] = p.next().validate();
          modes.addAll(List.of(straight[i].attnModes()));
          for (String k : straight[i].sampleKeys()) {
            datasets.add(k.substring(0, k.indexOf('/')));
          }
          assertTrue(straight[i].sequenceLength() <= 700);
          if (i == 3) {
            saved = p.position();
          }
        }
        assertEquals(0, p.skips().total(), "the example has no bad rows: " + p.skips());
      }
      assertEquals(Set.of("causal", "full", "noise"), modes);
      assertEquals(Set.of("t2i", "seedxedit_multi", "llava_ov"), datasets);
      // images are 64 px: VAE 4 x 4 latents, ViT grids of 14 px patches; VAE pixels normalised to [-1, 1]
      PackedBatch b = straight[0];
      for (float v : b.paddedImages()) {
        assertTrue(v >= -1.0001f && v <= 1.0001f);
      }
      assertEquals(b.sequenceLength(), PackedBatchArrow.fromIpcBytes(PackedBatchArrow.toIpcBytes(b))
          .sequenceLength());
      try (DataPipeline p = DataPipeline.builder().setGroups(groups).setConfig(config)
          .setTokens(tokenizer.specialTokens()).setRank(1, 2).optRestore(saved).build()) {
        for (int i = 4; i < straight.length; i++) {
          assertTrue(straight[i].contentEquals(p.next()), "pack " + i + " after resume");
        }
      }
    }
  }
}
