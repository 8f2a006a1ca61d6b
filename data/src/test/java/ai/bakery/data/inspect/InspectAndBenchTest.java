package ai.bakery.data.inspect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.DataConfig;
import ai.bakery.data.bench.DataBench;
import ai.bakery.data.group.DatasetGroups;
import ai.bakery.data.group.DatasetInfoRegistry;
import ai.bakery.data.group.PipelineFactory;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.testing.TinyDatasets;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectAndBenchTest {
  static final SpecialTokens TOKENS = new SpecialTokens(2000, 2001, 2002, 2003);

  static List<GroupSpec> groups(Path dir, DataConfig config) throws Exception {
    DatasetGroups g = DatasetGroups.load(TinyDatasets.write(dir, 48));
    return new PipelineFactory(config, TOKENS, TinyDatasets.WORDS, TinyDatasets.CROP)
        .fromYaml(g, DatasetInfoRegistry.load(g.datasetInfo()));
  }

  @Test
  void inspectReportsUnitsPacksPaddingAndSkips(@TempDir Path dir) throws Exception {
    DataConfig config = DataConfig.defaults().withTokens(60, 72, 48, 30, 3).withRowsPerUnit(16);
    DataInspector.Report r = DataInspector.inspect(groups(dir, config), config, TOKENS, 12);
    Map<String, DataInspector.GroupReport> byName = r.groups().stream()
        .collect(Collectors.toMap(DataInspector.GroupReport::name, x -> x));
    assertEquals(6, byName.get("t2i_pretrain").units()); // 2 files x 3 row groups
    assertEquals(24, byName.get("t2i_pretrain").rows());
    assertEquals(3, byName.get("vlm_sft").units()); // 48 records in runs of 16
    assertEquals(48, byName.get("vlm_sft").rows());
    assertTrue(byName.get("t2i_pretrain").samplesPacked() >= 12, "mandatory: at least one per pack");
    assertTrue(byName.get("vlm_sft").samplesPacked() > 0);
    assertEquals(12, r.packs());
    assertEquals(72, r.padTo());
    assertTrue(r.tokensMin() >= 1 && r.tokensMax() <= 72);
    assertEquals(1.0 - r.tokensTotal() / (12.0 * 72), r.paddingRatio(), 1e-12);
    assertTrue(r.vaeImages() >= 12 && r.vitImages() > 0);
    JsonNode json = new ObjectMapper().readTree(r.toJson());
    assertEquals(12, json.get("packs").asInt());
    assertTrue(json.get("groups").get(0).has("samples_packed"));
    assertTrue(json.get("skips").isObject());
  }

  @Test
  void inspectAndBenchTheExampleDatasetWithTheRealStack(@TempDir Path dir) throws Exception {
    DataConfig config = DataConfig.defaults().withTokens(2048, 2560, 2048, 1024, 10).withLoading(2, 2, 42)
        .withRowsPerUnit(8);
    List<DataBench.Row> rows = DataBench.onExample(dir.resolve("bench"), config, 8);
    rows.forEach(r -> org.slf4j.LoggerFactory.getLogger(InspectAndBenchTest.class)
        .info("bench data: {} = {} {}", r.metric(), String.format("%.1f", r.value()), r.unit()));
    assertTrue(rows.stream().anyMatch(r -> r.metric().equals("packed_to_decode_ratio") && r.value() > 0));
    try (ai.bakery.data.text.TextTokenizer tok = ai.bakery.data.text.TextTokenizer.tiny()) {
      DataInspector.Report r = DataInspector.inspect(dir.resolve("bench/example.yaml"), null, config, tok, 2);
      assertEquals(List.of("t2i_pretrain", "unified_edit", "vlm_sft"),
          r.groups().stream().map(DataInspector.GroupReport::name).toList());
      assertEquals(8, r.groups().get(0).units()); // 4 files x 2 row groups
      assertTrue(r.tokensMin() >= 2048 || r.tokensMax() <= 2560);
      assertTrue(r.skips().isEmpty(), r.skips().toString());
    }
  }

  @Test
  void benchReportsPackedAndRawDecodeRates(@TempDir Path dir) throws Exception {
    DataConfig config = DataConfig.defaults().withTokens(60, 72, 48, 30, 3).withRowsPerUnit(16)
        .withLoading(1, 2, 3);
    List<DataBench.Row> rows = DataBench.run(groups(dir, config), config, TOKENS, 2, 10, 40);
    Map<String, Double> m = rows.stream().collect(Collectors.toMap(DataBench.Row::metric, DataBench.Row::value));
    assertTrue(m.get("packed_tokens_per_s") > 0);
    assertTrue(m.get("packed_images_per_s") > 0);
    assertTrue(m.get("raw_decode_images_per_s") > 0);
    assertEquals(m.get("packed_images_per_s") / m.get("raw_decode_images_per_s"), m.get("packed_to_decode_ratio"),
        1e-9);
  }
}
