package ai.bakery.data.group;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.DataConfig;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.testing.TinyDatasets;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetGroupsTest {
  /** The reference's data/configs/example.yaml, key for key. */
  static final String EXAMPLE = """
      t2i_pretrain:
        dataset_names:
        - t2i
        image_transform_args:
          image_stride: 16
          max_image_size: 1024
          min_image_size: 512
        is_mandatory: true
        num_used_data: # The sum should be larger that NUM_GPUS x NUM_WORKERS
        - 10
        weight: 1

      unified_edit:
        dataset_names:
        - seedxedit_multi
        image_transform_args:
          image_stride: 16
          max_image_size: 1024
          min_image_size: 512
        vit_image_transform_args:
          image_stride: 14
          max_image_size: 518
          min_image_size: 224
        is_mandatory: false
        num_used_data:
        - 10
        weight: 1

      vlm_sft:
        dataset_names:
        - llava_ov
        image_transform_args:
          image_stride: 14
          max_image_size: 980
          min_image_size: 378
          max_pixels: 2_007_040
        frame_sampler_args:
          max_num_frames: 12
          min_num_frames: 8
        is_mandatory: true
        shuffle_lines: True
        shuffle_seed: 0
        num_used_data:
        - 1000
        weight: 1
      """;

  static final String REGISTRY = """
      t2i_pretrain:
        t2i:
          data_dir: bagel_example/t2i
          num_files: 10
          num_total_samples: 1000
      unified_edit:
        seedxedit_multi:
          data_dir: bagel_example/editing/seedxedit_multi
          num_files: 10
          num_total_samples: 1000
          parquet_info_path: bagel_example/editing/parquet_info/seedxedit_multi_nas.json
      vlm_sft:
        llava_ov:
          data_dir: bagel_example/vlm/images
          jsonl_path: bagel_example/vlm/llava_ov_si.jsonl
          num_total_samples: 1000
      """;

  static DatasetGroups parse(String yaml) {
    return DatasetGroups.parse(yaml, "datasets.yaml", Path.of("/data"));
  }

  static String error(String yaml) {
    return assertThrows(IllegalArgumentException.class, () -> parse(yaml)).getMessage();
  }

  @Test
  void parsesTheReferenceExample() {
    DatasetGroups g = parse(EXAMPLE);
    assertEquals(List.of("t2i_pretrain", "unified_edit", "vlm_sft"), g.groups().stream().map(DatasetGroup::name)
        .toList());
    DatasetGroup t2i = g.group("t2i_pretrain");
    assertEquals("t2i_pretrain", t2i.type());
    assertEquals(List.of("t2i"), t2i.datasetNames());
    assertEquals(List.of(10L), t2i.numUsedData());
    assertTrue(t2i.isMandatory());
    assertEquals(1.0, t2i.weight());
    assertEquals(16, t2i.imageTransformArgs().imageStride());
    assertEquals(TransformArgs.DEFAULT_MAX_PIXELS, t2i.imageTransformArgs().maxPixels());
    assertNull(t2i.vitImageTransformArgs());
    DatasetGroup edit = g.group("unified_edit");
    assertFalse(edit.isMandatory());
    assertEquals(14, edit.vitTransform().imageStride());
    assertEquals(518, edit.vitTransform().maxImageSize());
    DatasetGroup vlm = g.group("vlm_sft");
    assertEquals(2_007_040L, vlm.imageTransformArgs().maxPixels());
    assertEquals(14, vlm.vitTransform().imageStride(), "VLM images use image_transform_args for the ViT");
    assertEquals(12, vlm.frameSamplerArgs().maxNumFrames());
    assertTrue(vlm.shuffleLines());
    assertEquals(0, vlm.shuffleSeed());
    assertTrue(vlm.resumeDataStatus());
    assertNull(g.datasetInfo());
  }

  @Test
  void errorsNameTheGroupAndKey() {
    assertTrue(error(EXAMPLE.replace("  is_mandatory: false", "  is_mandatry: false"))
        .contains("group unified_edit: unknown key 'is_mandatry'"));
    assertTrue(error(EXAMPLE.replace("  weight: 1\n\nunified", "  weight: -1\n\nunified"))
        .contains("group t2i_pretrain: dataset group t2i_pretrain: weight must be"));
    assertTrue(error(EXAMPLE.replace("    image_stride: 14\n    max_image_size: 518",
        "    max_image_size: 518")).contains("image_stride"));
    assertTrue(error(EXAMPLE.replace("  - 1000", "  - 1000\n  - 5")).contains("num_used_data has 2 entries"));
    assertTrue(error(EXAMPLE.replace("    image_stride: 16\n    max_image_size: 1024\n    min_image_size: 512\n"
        + "  is_mandatory: true", "    image_stride: sixteen\n    max_image_size: 1024\n    min_image_size: 512\n"
        + "  is_mandatory: true")).contains("image_transform_args.image_stride"));
    assertTrue(error("vlm_sft:\n  weight: 1\n  image_transform_args: {image_stride: 14, max_image_size: 980,"
        + " min_image_size: 378}\n").contains("dataset_names is missing"));
    assertTrue(error("- a\n- b\n").contains("expected a map"));
  }

  @Test
  void registryIsDataAndLookupsNameWhatExists() {
    DatasetInfoRegistry r = DatasetInfoRegistry.parse(REGISTRY, "dataset_info.yaml", Path.of("/data"));
    DatasetInfo vlm = r.lookup("vlm_sft", "llava_ov");
    assertEquals(Path.of("/data/bagel_example/vlm/llava_ov_si.jsonl"), vlm.jsonlPath());
    assertEquals(Path.of("/data/bagel_example/vlm/images"), vlm.dataDir());
    assertEquals(1000L, r.lookup("t2i_pretrain", "t2i").numTotalSamples());
    String e = assertThrows(IllegalArgumentException.class, () -> r.lookup("vlm_sft", "llava")).getMessage();
    assertTrue(e.contains("no dataset 'llava'") && e.contains("llava_ov"), e);
    String bad = assertThrows(IllegalArgumentException.class, () -> DatasetInfoRegistry.parse(
        "t2i_pretrain:\n  t2i:\n    data_dri: x\n", "info.yaml", Path.of("/"))).getMessage();
    assertTrue(bad.contains("t2i_pretrain.t2i: unknown key 'data_dri'"), bad);
  }

  @Test
  void factoryChecksStridesAndRegistryEntries() {
    DataConfig config = DataConfig.defaults();
    PipelineFactory f = new PipelineFactory(config, new SpecialTokens(1, 2, 3, 4), TinyDatasets.WORDS,
        TinyDatasets.CROP);
    DatasetInfoRegistry r = DatasetInfoRegistry.parse(REGISTRY, "dataset_info.yaml", Path.of("/data"));
    List<GroupSpec> specs = f.fromYaml(parse(EXAMPLE), r);
    assertEquals(3, specs.size());
    assertEquals(Path.of("/data/bagel_example/vlm/images"), specs.get(2).datasets().get(0).source().dataRoot());
    String stride = assertThrows(IllegalArgumentException.class, () -> f.fromYaml(parse(EXAMPLE.replace(
        "    image_stride: 14\n    max_image_size: 518", "    image_stride: 16\n    max_image_size: 518")), r))
        .getMessage();
    assertTrue(stride.contains("unified_edit: vit_image_transform_args.image_stride 16"), stride);
    String missing = assertThrows(IllegalArgumentException.class, () -> f.fromYaml(parse(EXAMPLE.replace(
        "- seedxedit_multi", "- seedx")), r)).getMessage();
    assertTrue(missing.contains("dataset group unified_edit") && missing.contains("seedx"), missing);
  }

  @Test
  void dataConfigBindsSnakeCaseWithDefaultsAndNamesBadKeys() throws Exception {
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    DataConfig c = yaml.readValue("expected_num_tokens: 10240\nmax_num_tokens: 11520\n", DataConfig.class);
    assertEquals(10240, c.expectedNumTokens());
    assertEquals(11520, c.maxNumTokens());
    assertEquals(16384, c.maxNumTokensPerSample(), "the reference's finetune settings keep the default");
    DataConfig d = DataConfig.defaults();
    assertEquals(32768, d.expectedNumTokens());
    assertEquals(36864, d.maxNumTokens());
    assertEquals(16384, d.maxNumTokensPerSample());
    assertEquals(16384, d.preferBufferBefore());
    assertEquals(50, d.maxBufferSize());
    assertEquals(0.1, d.textCondDropoutProb());
    assertEquals(0.3, d.vitCondDropoutProb());
    assertEquals(0.3, d.vaeCondDropoutProb());
    assertEquals(DataConfig.REFERENCE, d.packingStrategy());
    Exception e = assertThrows(Exception.class, () -> yaml.readValue("vit_cond_dropout_prob: 1.5\n",
        DataConfig.class));
    assertTrue(String.valueOf(e.getCause() != null ? e.getCause().getMessage() : e.getMessage())
        .contains("vit_cond_dropout_prob"), e.toString());
  }

  @Test
  void lmmsInlineDatasetConfigBuildsTheSamePipelineParts(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("train.jsonl"), "{\"messages\": []}\n");
    JsonNode dc = new ObjectMapper(new YAMLFactory()).readTree("""
        dataset_type: bagel_iterable
        dataset_format: yaml
        datasets:
          - path: train.jsonl
            data_folder: images
            data_type: jsonl
        packing: true
        packing_strategy: first_fit
        packing_length: 10240
        filter_overlong: true
        """);
    DataConfig c = PipelineFactory.lmmsDataConfig(dc, DataConfig.defaults(), "job.yaml");
    assertEquals(DataConfig.FIRST_FIT, c.packingStrategy());
    assertEquals(10240, c.packingLength());
    assertTrue(c.filterOverlong());
    List<GroupSpec> specs = new PipelineFactory(c, new SpecialTokens(1, 2, 3, 4), TinyDatasets.WORDS,
        TinyDatasets.CROP).fromLmms(dc, dir, "job.yaml");
    assertEquals(1, specs.size());
    assertEquals(dir.resolve("train.jsonl"), specs.get(0).datasets().get(0).source().path());
    assertEquals(dir.resolve("images"), specs.get(0).datasets().get(0).source().dataRoot());
    JsonNode window = new ObjectMapper().readTree("{\"packing\": true, \"packing_strategy\": \"window_100\"}");
    String e = assertThrows(IllegalArgumentException.class,
        () -> PipelineFactory.lmmsDataConfig(window, DataConfig.defaults(), "job.yaml")).getMessage();
    assertTrue(e.contains("packing_strategy 'window_100'"), e);
  }
}
