package ai.bakery.data.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.messages.MessagesYaml;
import ai.bakery.data.source.records.RecordWriters;
import ai.bakery.data.video.FrameSamplerConfig;
import java.awt.Color;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonFormatsTest {
  @TempDir Path dir;

  private Path images() throws Exception {
    Path images = Files.createDirectories(dir.resolve("images"));
    Files.write(images.resolve("red.png"), TestMedia.png(Color.RED, 12, 12));
    Files.write(images.resolve("blue.png"), TestMedia.png(Color.BLUE, 12, 12));
    Files.write(images.resolve("broken.png"), new byte[] {0, 1, 2, 3, 4, 5});
    Files.write(dir.resolve("secret.png"), TestMedia.png(Color.GREEN, 12, 12));
    Files.createSymbolicLink(images.resolve("link.png"), dir.resolve("secret.png"));
    return images;
  }

  @Test
  void vlmJsonlItemsFlagsAndSkips() throws Exception {
    Path images = images();
    List<String> lines = List.of(
        "{\"image\": \"red.png\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\nWhat colour?\"},"
            + " {\"from\": \"gpt\", \"value\": \"Red.\"}]}",
        "{\"image\": [\"red.png\", \"blue.png\"], \"conversations\": [{\"from\": \"human\", \"value\":"
            + " \"Left <image> right <image> compare\"}, {\"from\": \"gpt\", \"value\": \"Red then blue.\"},"
            + " {\"from\": \"human\", \"value\": \"Sure?\"}, {\"from\": \"gpt\", \"value\": \"Yes.\"}]}",
        "{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"gpt\", \"value\": \"Hello\"}]}",
        "{\"image\": \"missing.png\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"x\"}]}",
        "{\"image\": \"broken.png\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"x\"}]}",
        "{\"image\": \"../secret.png\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"x\"}]}",
        "{\"image\": \"" + dir.resolve("secret.png") + "\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"x\"}]}",
        "{\"image\": \"link.png\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"x\"}]}",
        "{\"image\": \"https://example.com/a.png\", \"conversations\": [{\"from\": \"human\", \"value\":"
            + " \"<image>\"}, {\"from\": \"gpt\", \"value\": \"x\"}]}",
        "{\"conversations\": [{\"from\": \"human\", \"value\": \"unterminated",
        "{\"conversations\": [{\"from\": \"robot\", \"value\": \"beep\"}, {\"from\": \"gpt\", \"value\": \"x\"}]}",
        "{\"conversations\": [{\"from\": \"human\", \"value\": \"no answer\"}]}");
    Path jsonl = dir.resolve("vlm.jsonl");
    Files.write(jsonl, lines, StandardCharsets.UTF_8);
    DatasetSource src = new DatasetSource("llava", jsonl, images, ReadOptions.DEFAULTS.withRowsPerUnit(5));
    List<ShardUnit> units = DatasetFormats.VLM.units(src);
    assertEquals(List.of(5L, 5L, 2L), units.stream().map(ShardUnit::rowCount).toList());

    SkipCounter skips = new SkipCounter();
    List<PositionedSample> all = TestMedia.readAll(DatasetFormats.VLM, src, skips);
    assertEquals(3, all.size());
    assertEquals(Map.of(
        SkipReason.MISSING_IMAGE, 1L,
        SkipReason.CORRUPT_IMAGE, 1L,
        SkipReason.PATH_OUTSIDE_DATA_ROOT, 3L,
        SkipReason.URL_NOT_ALLOWED, 1L,
        SkipReason.MALFORMED_JSON, 1L,
        SkipReason.UNKNOWN_CONTENT_TYPE, 1L,
        SkipReason.NO_LOSS, 1L), skips.snapshot());

    assertEquals(List.of("I(vit)", "T(What colour?)", "T(Red.|loss)"), TestMedia.render(all.get(0).sample()));
    assertEquals(0xff0000, TestMedia.centerRgb(all.get(0).sample().items().get(0)));
    assertEquals(List.of("T(Left)", "I(vit)", "T(right)", "I(vit)", "T(compare)", "T(Red then blue.|loss)",
        "T(Sure?)", "T(Yes.|loss)"), TestMedia.render(all.get(1).sample()));
    assertEquals(0x0000ff, TestMedia.centerRgb(all.get(1).sample().items().get(3)));
    assertEquals(List.of("T(Hi)", "T(Hello|loss)"), TestMedia.render(all.get(2).sample()));
    assertEquals(units.get(0), all.get(2).unit());
    assertEquals(2, all.get(2).row());
    assertEquals("llava/vlm.jsonl#0:2", all.get(2).sample().key()); // where the data lives is not part of it

    // allow_urls keeps the url image for the planner to fetch
    SkipCounter withUrls = new SkipCounter();
    DatasetSource urls = new DatasetSource("llava", jsonl, images, src.options().withAllowUrls(true));
    try (SampleCursor c = DatasetFormats.VLM.open(urls, units.get(1), 3, withUrls)) {
      PositionedSample s = c.next();
      assertEquals(3, s.row());
      assertEquals("https://example.com/a.png",
          ((SampleItem.Image) s.sample().items().get(0)).source().describe());
    }
  }

  @Test
  void vlmVideoFramesBecomeVitImages() throws Exception {
    Path media = Files.createDirectories(dir.resolve("media"));
    Color[] colors = {Color.RED, Color.GREEN, Color.BLUE, Color.YELLOW, Color.MAGENTA, Color.CYAN};
    ai.bakery.data.video.VideoFrameReaderTest.writeVideo(media.resolve("clip.avi"), colors, 4);
    Path jsonl = dir.resolve("video.jsonl");
    Files.writeString(jsonl, "{\"video\": \"clip.avi\", \"conversations\": [{\"from\": \"human\", \"value\":"
        + " \"<video>\\nWhat happens?\"}, {\"from\": \"gpt\", \"value\": \"Colours change.\"}]}\n"
        + "{\"video\": \"clip.avi\", \"conversations\": [{\"from\": \"human\", \"value\": \"no marker\"},"
        + " {\"from\": \"gpt\", \"value\": \"x\"}]}\n");
    ReadOptions opts = ReadOptions.DEFAULTS.withFrameSampler(new FrameSamplerConfig(6, 3, "middle"));
    DatasetSource src = new DatasetSource("video", jsonl, media, opts);
    SkipCounter skips = new SkipCounter();
    List<PositionedSample> all = TestMedia.readAll(DatasetFormats.VLM, src, skips);
    assertEquals(Map.of(SkipReason.MEDIA_MISMATCH, 1L), skips.snapshot());
    List<String> items = TestMedia.render(all.get(0).sample());
    int frames = items.size() - 2;
    assertTrue(frames >= 3 && frames <= 6, items.toString());
    assertEquals(List.of("T(What happens?)", "T(Colours change.|loss)"), items.subList(frames, items.size()));
    // middle sampling over 24 frames of 6 colours (4 each): frame i of n is interval i's middle
    for (int i = 0; i < frames; i++) {
      assertEquals("I(vit)", items.get(i));
      int lo = 24 * i / frames;
      int hi = 24 * (i + 1) / frames - 1;
      int expected = colors[((lo + hi) / 2) / 4].getRGB() & 0xffffff;
      ai.bakery.data.video.VideoFrameReaderTest.assertNear(expected,
          TestMedia.centerRgb(all.get(0).sample().items().get(i)));
    }
  }

  @Test
  void vlmFrameFolderKeepsNumberedOrder() throws Exception {
    Path media = Files.createDirectories(dir.resolve("media"));
    Path frames = Files.createDirectories(media.resolve("clip"));
    Color[] colours = {Color.RED, Color.GREEN, Color.BLUE, Color.YELLOW, Color.MAGENTA, Color.CYAN, Color.WHITE,
        Color.BLACK, Color.ORANGE, Color.PINK};
    for (int i = 0; i < colours.length; i++) {
      // numbered names whose lexical order differs from their numeric order
      Files.write(frames.resolve("f_" + i + ".jpg"), TestMedia.png(colours[i], 8, 8));
    }
    Path jsonl = dir.resolve("frames.jsonl");
    Files.writeString(jsonl, "{\"video\": \"clip/\", \"conversations\": [{\"from\": \"human\", \"value\":"
        + " \"<video>\"}, {\"from\": \"gpt\", \"value\": \"ok\"}]}\n");
    ReadOptions opts = ReadOptions.DEFAULTS.withFrameSampler(new FrameSamplerConfig(5, 5, "middle"));
    List<PositionedSample> all = TestMedia.readAll(DatasetFormats.VLM, new DatasetSource("f", jsonl, media, opts),
        new SkipCounter());
    List<SampleItem> items = all.get(0).sample().items();
    assertEquals(6, items.size());
    // 10 frames, 5 wanted, middle of intervals [0,1] [2,3] ... -> frames 0, 2, 4, 6, 8
    for (int i = 0; i < 5; i++) {
      assertEquals(colours[2 * i].getRGB() & 0xffffff, TestMedia.centerRgb(items.get(i)));
    }
  }

  static final String RECORD = "{\"messages\": ["
      + "{\"role\": \"system\", \"content\": [{\"type\": \"text\", \"text\": \"Be brief.\"}]},"
      + "{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"red.png\"}},"
      + " {\"type\": \"text\", \"text\": \"Make it blue\"}]},"
      + "{\"role\": \"assistant\", \"content\": [{\"type\": \"text\", \"text\": \"Here:\"},"
      + " {\"type\": \"image_url\", \"image_url\": {\"url\": \"blue.png\"}}]}]}";
  static final String UNDERSTAND = "{\"messages\": ["
      + "{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"red.png\"}},"
      + " {\"type\": \"text\", \"text\": \"Colour?\"}]},"
      + "{\"role\": \"assistant\", \"content\": \"Red.\"}]}";
  static final String UNKNOWN = "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"audio_url\","
      + " \"audio_url\": {\"url\": \"a.wav\"}}]}, {\"role\": \"assistant\", \"content\": \"x\"}]}";
  static final String TRAVERSAL = "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\","
      + " \"image_url\": {\"url\": \"../secret.png\"}}]}, {\"role\": \"assistant\", \"content\": \"x\"}]}";

  static final List<String> GENERATE = List.of("T(Be brief.)", "I(vit+cond)", "T(Make it blue|drop)",
      "T(Here:|loss)", "I(+target)");
  static final List<String> UNDERSTOOD = List.of("I(vit)", "T(Colour?)", "T(Red.|loss)");

  private void assertMessages(DatasetSource src, String how) throws Exception {
    SkipCounter skips = new SkipCounter();
    List<PositionedSample> all = TestMedia.readAll(DatasetFormats.messages(null), src, skips);
    assertEquals(2, all.size(), how);
    assertEquals(GENERATE, TestMedia.render(all.get(0).sample()), how);
    assertEquals(UNDERSTOOD, TestMedia.render(all.get(1).sample()), how);
    assertEquals(0x0000ff, TestMedia.centerRgb(all.get(0).sample().items().get(4)), how);
    assertEquals(Map.of(SkipReason.UNKNOWN_CONTENT_TYPE, 1L, SkipReason.PATH_OUTSIDE_DATA_ROOT, 1L),
        skips.snapshot(), how);
  }

  @Test
  void messagesFromJsonJsonlYaml() throws Exception {
    Path images = images();
    Path jsonl = dir.resolve("m.jsonl");
    Files.writeString(jsonl, String.join("\n", RECORD, UNDERSTAND, UNKNOWN, TRAVERSAL) + "\n");
    Path json = dir.resolve("m.json");
    Files.writeString(json, "[" + String.join(",", RECORD, UNDERSTAND, UNKNOWN, TRAVERSAL) + "]");
    assertMessages(new DatasetSource("m", jsonl, images, ReadOptions.DEFAULTS), "jsonl");
    assertMessages(new DatasetSource("m", json, images, ReadOptions.DEFAULTS.withRowsPerUnit(3)), "json");

    Path yaml = dir.resolve("list.yaml");
    Files.writeString(yaml, "datasets:\n  - path: m.jsonl\n    data_folder: images\n    data_type: jsonl\n"
        + "  - path: m.json\n    data_folder: images\n");
    List<MessagesYaml.Entry> entries = MessagesYaml.read(yaml, ReadOptions.DEFAULTS);
    assertEquals(2, entries.size());
    for (MessagesYaml.Entry e : entries) {
      SkipCounter skips = new SkipCounter();
      List<PositionedSample> all = TestMedia.readAll(e.format(), e.source(), skips);
      assertEquals(GENERATE, TestMedia.render(all.get(0).sample()));
      assertEquals(2, skips.total());
    }
    assertEquals("m.jsonl", entries.get(0).source().name());
  }

  @Test
  void messagesFromParquetAndArrow() throws Exception {
    Path images = images();
    Field url = Field.nullable("url", ArrowType.Utf8.INSTANCE);
    Field imageUrl = new Field("image_url", FieldType.nullable(ArrowType.Struct.INSTANCE), List.of(url));
    Field item = new Field("item", FieldType.nullable(ArrowType.Struct.INSTANCE), List.of(
        Field.nullable("type", ArrowType.Utf8.INSTANCE), Field.nullable("text", ArrowType.Utf8.INSTANCE), imageUrl));
    Field content = new Field("content", FieldType.nullable(ArrowType.List.INSTANCE), List.of(item));
    Field message = new Field("item", FieldType.nullable(ArrowType.Struct.INSTANCE),
        List.of(Field.nullable("role", ArrowType.Utf8.INSTANCE), content));
    Schema schema = new Schema(List.of(new Field("messages", FieldType.nullable(ArrowType.List.INSTANCE),
        List.of(message))));

    List<Object[]> rows = new ArrayList<>();
    for (String rec : List.of(RECORD, UNDERSTAND, UNKNOWN, TRAVERSAL)) {
      rows.add(new Object[] {toPlain(new com.fasterxml.jackson.databind.ObjectMapper().readTree(rec).get("messages"))});
    }
    Path parquet = dir.resolve("m.parquet");
    RecordWriters.writeParquet(parquet, schema, List.of(rows.subList(0, 2), rows.subList(2, 4)));
    assertMessages(new DatasetSource("m", parquet, images, ReadOptions.DEFAULTS), "parquet");
    Path arrowFile = dir.resolve("m.arrow");
    RecordWriters.writeArrow(arrowFile, schema, List.of(rows.subList(0, 3), rows.subList(3, 4)), false);
    assertMessages(new DatasetSource("m", arrowFile, images, ReadOptions.DEFAULTS), "arrow file");
    Path arrowStream = Files.createDirectories(dir.resolve("hf")).resolve("data-00000-of-00001.arrow");
    RecordWriters.writeArrow(arrowStream, schema, List.of(rows.subList(0, 1), rows.subList(1, 4)), true);
    assertMessages(new DatasetSource("m", arrowStream.getParent(), images, ReadOptions.DEFAULTS), "arrow stream");
  }

  /** Jackson tree to plain maps/lists with every struct field present (as Arrow stores them). */
  private static Object toPlain(com.fasterxml.jackson.databind.JsonNode n) {
    if (n.isArray()) {
      List<Object> out = new ArrayList<>();
      n.forEach(c -> out.add(toPlain(c)));
      return out;
    }
    if (n.isObject()) {
      Map<String, Object> out = new java.util.HashMap<>();
      n.fields().forEachRemaining(e -> out.put(e.getKey(), toPlain(e.getValue())));
      if (out.get("content") instanceof String s) {
        out.put("content", List.of(Map.of("type", "text", "text", s)));
      }
      return out;
    }
    return n.isNull() ? null : n.asText();
  }
}
