package ai.bakery.data.example;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ShapeScene.Palette;
import ai.bakery.data.group.DatasetGroup;
import ai.bakery.data.group.DatasetGroups;
import ai.bakery.data.group.DatasetInfo;
import ai.bakery.data.group.DatasetInfoRegistry;
import ai.bakery.data.sample.Sample;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.DatasetFormat;
import ai.bakery.data.source.DatasetFormats;
import ai.bakery.data.source.DatasetSource;
import ai.bakery.data.source.PositionedSample;
import ai.bakery.data.source.ReadOptions;
import ai.bakery.data.source.SampleCursor;
import ai.bakery.data.source.ShardUnit;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.source.records.ParquetFooter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExampleDatasetTest {
  @TempDir Path dir;

  private static final Pattern COLOUR_SHAPE = Pattern.compile("(\\w+) (circle|square|triangle)");

  private static List<Sample> read(DatasetFormat f, DatasetSource s, SkipCounter skips) throws IOException {
    List<Sample> out = new ArrayList<>();
    for (ShardUnit u : f.units(s)) {
      try (SampleCursor c = f.open(s, u, 0, skips)) {
        c.forEachRemaining(p -> out.add(p.sample()));
      }
    }
    return out;
  }

  private static BufferedImage image(SampleItem item) throws IOException {
    return ((SampleItem.Image) item).source().load();
  }

  private static Palette centre(BufferedImage img) {
    return Palette.nearest(img.getRGB(img.getWidth() / 2, img.getHeight() / 2));
  }

  private static Palette corner(BufferedImage img) {
    return Palette.nearest(img.getRGB(0, 0));
  }

  private static String text(SampleItem item) {
    return ((SampleItem.Text) item).text();
  }

  @Test
  void writesTheReferenceLayoutAndEveryTextIsTrueOfItsPicture() throws Exception {
    ExampleDataset.Options o = new ExampleDataset.Options(7, 64, 3, 2, 2, 6, 20);
    ExampleDataset.Summary s = ExampleDataset.write(dir, o);
    assertEquals(3 * 2 * 6, s.t2iSamples());
    assertEquals(2 * 2 * 6, s.editSamples());
    assertEquals(20, s.vlmSamples());
    for (int f = 0; f < 3; f++) {
      assertArrayEquals(new long[] {6, 6}, ParquetFooter.rowGroupRows(dir.resolve("t2i/part-0000" + f + ".parquet")));
    }
    JsonNode info = new ObjectMapper().readTree(dir.resolve("editing/parquet_info/seedxedit_multi_nas.json").toFile());
    assertEquals(2, info.get("editing/seedxedit_multi/part-00001.parquet").get("num_row_groups").asInt());
    assertTrue(Files.isRegularFile(dir.resolve("vlm/images/000019.png")));

    // the group YAML and registry bind with the project's parsers
    DatasetGroups groups = DatasetGroups.load(s.groupsYaml());
    assertEquals(List.of("t2i_pretrain", "unified_edit", "vlm_sft"),
        groups.groups().stream().map(DatasetGroup::name).toList());
    assertEquals(dir.resolve("dataset_info.yaml").toAbsolutePath().normalize(), groups.datasetInfo());
    DatasetInfoRegistry registry = DatasetInfoRegistry.load(groups.datasetInfo());
    DatasetInfo t2iInfo = registry.lookup("t2i_pretrain", "t2i");
    DatasetInfo editInfo = registry.lookup("unified_edit", "seedxedit_multi");
    DatasetInfo vlmInfo = registry.lookup("vlm_sft", "llava_ov");
    assertEquals(14, groups.groups().get(1).vitTransform().imageStride());

    SkipCounter skips = new SkipCounter();
    // T2I: caption words match the drawn colours
    List<Sample> t2i = read(DatasetFormats.T2I,
        new DatasetSource("t2i", t2iInfo.dataDir(), null, ReadOptions.DEFAULTS), skips);
    assertEquals(36, t2i.size());
    for (Sample x : t2i) {
      String caption = text(x.items().get(0));
      BufferedImage img = image(x.items().get(1));
      assertEquals(64, img.getWidth());
      Matcher m = COLOUR_SHAPE.matcher(caption);
      assertTrue(m.find(), caption);
      assertEquals(centre(img).word(), m.group(1), caption);
      if (caption.contains(" on ")) {
        assertTrue(caption.endsWith(corner(img).word()) || caption.endsWith(corner(img).word() + " background"),
            caption);
      }
    }

    // editing: every instruction truly describes the change it leads to
    List<Sample> edit = read(DatasetFormats.EDIT,
        new DatasetSource("seedxedit_multi", editInfo.dataDir(), null, ReadOptions.DEFAULTS), skips);
    assertEquals(24, edit.size());
    for (Sample x : edit) {
      List<SampleItem> items = x.items();
      BufferedImage before = image(items.get(0));
      for (int i = 1; i + 1 < items.size(); i += 2) {
        String instruction = text(items.get(i));
        BufferedImage after = image(items.get(i + 1));
        Matcher colour = Pattern.compile("make the \\w+ (\\w+)$|to (\\w+)$|turn the \\w+ (\\w+)$").matcher(instruction);
        if (instruction.contains("background")) {
          assertEquals(centre(before), centre(after), instruction);
          assertTrue(instruction.endsWith(corner(after).word()), instruction);
        } else if (instruction.contains(" into a ") || instruction.contains(" with a ")) {
          assertEquals(centre(before), centre(after), instruction);
          assertEquals(corner(before), corner(after), instruction);
        } else if (colour.find()) {
          assertTrue(instruction.endsWith(centre(after).word()) || instruction.contains(". "), instruction);
          assertEquals(corner(before), corner(after), instruction);
        }
        before = after;
      }
    }

    // VLM: answers state the picture's colours
    List<Sample> vlm = read(DatasetFormats.VLM,
        new DatasetSource("llava_ov", vlmInfo.jsonlPath(), vlmInfo.dataDir(), ReadOptions.DEFAULTS), skips);
    assertEquals(20, vlm.size());
    for (Sample x : vlm) {
      BufferedImage img = image(x.items().get(0));
      for (SampleItem item : x.items()) {
        if (item instanceof SampleItem.Text t && t.loss()) {
          if (t.text().startsWith("The shape is")) {
            assertEquals("The shape is " + centre(img).word() + ".", t.text());
          } else if (t.text().startsWith("The background is")) {
            assertEquals("The background is " + corner(img).word() + ".", t.text());
          }
        }
      }
    }
    assertEquals(0, skips.total(), skips.toString());
  }

  @Test
  void messagesFileReadsAsUnderstandingAndGenerationConversations() throws Exception {
    ExampleDataset.Options o = new ExampleDataset.Options(5, 32, 1, 1, 1, 4, 6);
    ExampleDataset.write(dir.resolve("m"), o);
    Path root = dir.resolve("m");
    ai.bakery.data.source.DatasetSource src = new ai.bakery.data.source.DatasetSource("messages",
        root.resolve("messages.jsonl"), root, ai.bakery.data.source.ReadOptions.DEFAULTS);
    ai.bakery.data.source.DatasetFormat fmt = ai.bakery.data.source.DatasetFormats.messages("jsonl");
    ai.bakery.data.source.SkipCounter skips = new ai.bakery.data.source.SkipCounter();
    int understanding = 0;
    int generation = 0;
    for (ai.bakery.data.source.ShardUnit u : fmt.units(src)) {
      try (ai.bakery.data.source.SampleCursor c = fmt.open(src, u, 0, skips)) {
        while (c.hasNext()) {
          var items = c.next().sample().items();
          var last = items.get(items.size() - 1);
          if (last instanceof ai.bakery.data.sample.SampleItem.Image img) {
            assertTrue(img.vaeTarget(), "an assistant image is a generation target");
            generation++;
          } else {
            assertTrue(((ai.bakery.data.sample.SampleItem.Text) last).loss(), "assistant text carries loss");
            understanding++;
          }
        }
      }
    }
    assertEquals(6, understanding);
    assertEquals(6, generation);
    assertEquals(0, skips.total());
  }

  @Test
  void sameSeedSameBytes() throws Exception {
    ExampleDataset.Options o = new ExampleDataset.Options(3, 32, 1, 1, 1, 4, 3);
    ExampleDataset.write(dir.resolve("a"), o);
    ExampleDataset.write(dir.resolve("b"), o);
    for (String f : List.of("vlm/llava_ov_si.jsonl", "vlm/images/000002.png", "example.yaml", "dataset_info.yaml")) {
      assertArrayEquals(Files.readAllBytes(dir.resolve("a").resolve(f)), Files.readAllBytes(dir.resolve("b").resolve(f)), f);
    }
    // parquet bytes too (the caption drawn per row depends on the key, which names the file's path)
    assertArrayEquals(Files.readAllBytes(dir.resolve("a/t2i/part-00000.parquet")),
        Files.readAllBytes(dir.resolve("b/t2i/part-00000.parquet")));
  }

  @Test
  void vlmPicturesMayBeLargerThanThePicturesToGenerateAndTheGroupsFollowEach() throws Exception {
    ExampleDataset.Options o = new ExampleDataset.Options(9, 32, 1, 1, 1, 2, 3, 64);
    ExampleDataset.write(dir.resolve("q"), o);
    Path root = dir.resolve("q");
    BufferedImage vlm = javax.imageio.ImageIO.read(root.resolve("vlm/images/000000.png").toFile());
    assertEquals(64, vlm.getWidth());
    assertEquals(64, javax.imageio.ImageIO.read(root.resolve("messages/images/000000.png").toFile()).getHeight());
    String yaml = Files.readString(root.resolve("example.yaml"));
    String t2i = yaml.substring(yaml.indexOf("t2i_pretrain:"), yaml.indexOf("unified_edit:"));
    String edit = yaml.substring(yaml.indexOf("unified_edit:"), yaml.indexOf("vlm_sft:"));
    String vlmGroup = yaml.substring(yaml.indexOf("vlm_sft:"));
    assertTrue(t2i.contains("max_image_size: 32"), t2i);
    assertTrue(edit.contains("max_image_size: 28"), "edit ViT inputs follow the 32-pixel pictures: " + edit);
    assertTrue(vlmGroup.contains("max_image_size: 70") && vlmGroup.contains("max_pixels: 4900"),
        "VLM ViT inputs follow the 64-pixel pictures (5 x 5 patches of 14): " + vlmGroup);
    assertEquals(o, new ExampleDataset.Options(9, 32, 1, 1, 1, 2, 3, 64));
    assertEquals(32, new ExampleDataset.Options(9, 32, 1, 1, 1, 2, 3).vlmImageSize(), "defaults to imageSize");
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new ExampleDataset.Options(9, 32, 1, 1, 1, 2, 3, 8));
  }
}
