package ai.bakery.data.example;

import ai.bakery.data.example.ShapeScene.Shape;
import ai.bakery.data.source.records.ParquetFooter;
import ai.bakery.data.source.records.RecordWriters;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes a small dataset in the reference's example layout ({@code bagel_example}), drawn procedurally so it
 * needs no download and every text is true of its picture:
 *
 * <pre>
 * t2i/part-0000N.parquet                     image (PNG bytes), captions (JSON of named captions)
 * editing/seedxedit_multi/part-0000N.parquet image_list (3 PNGs, each one edit of the previous),
 *                                            instruction_list (alternative instructions per edit)
 * editing/parquet_info/seedxedit_multi_nas.json   row groups and rows per parquet file
 * vlm/images/NNNNNN.png, vlm/llava_ov_si.jsonl    LLaVA-style questions and answers about each image
 * dataset_info.yaml                          the dataset registry (the reference's DATASET_INFO, as data)
 * example.yaml                               the dataset groups, in the reference's schema
 * messages.jsonl, messages/images/NNNNNN.png LMMS Engine messages: a question per image, and a request to draw it
 * </pre>
 *
 * Pictures are a circle, square or triangle in one of eight named colours on another colour. Everything is
 * a function of the seed.
 */
public final class ExampleDataset {
  /**
   * Sizes of the example.
   *
   * @param seed everything drawn derives from it
   * @param imageSize side of the square images, pixels
   * @param t2iFiles T2I parquet files
   * @param editFiles editing parquet files
   * @param rowGroupsPerFile row groups in each parquet file
   * @param rowsPerGroup rows in each row group
   * @param vlmRecords records of the VLM JSONL (one image each)
   * @param vlmImageSize side of the VLM (and messages) pictures, pixels: the ViT sees them in 14-pixel patches,
   *     so they may need to be larger than the generated pictures for a small ViT to tell shape from background
   */
  public record Options(long seed, int imageSize, int t2iFiles, int editFiles, int rowGroupsPerFile,
      int rowsPerGroup, int vlmRecords, int vlmImageSize) {
    public static final Options DEFAULTS = new Options(42, 64, 4, 2, 2, 16, 64);

    /**
     * What {@code bakery quickstart} writes: 32-pixel pictures to generate (64 latent tokens each with the tiny
     * autoencoder, a quarter of a 64-pixel picture's, so a step sees four times the pictures), 512 of them so
     * captions are learnt rather than memorised, and 512 VLM pictures at 64 pixels (5 x 5 ViT patches).
     */
    public static final Options QUICKSTART = new Options(42, 32, 16, 2, 2, 16, 512, 64);

    /** Options whose VLM pictures have the same size as the others. */
    public Options(long seed, int imageSize, int t2iFiles, int editFiles, int rowGroupsPerFile, int rowsPerGroup,
        int vlmRecords) {
      this(seed, imageSize, t2iFiles, editFiles, rowGroupsPerFile, rowsPerGroup, vlmRecords, imageSize);
    }

    public Options {
      if (imageSize < 16 || vlmImageSize < 16 || t2iFiles < 1 || editFiles < 1 || rowGroupsPerFile < 1
          || rowsPerGroup < 1 || vlmRecords < 1) {
        throw new IllegalArgumentException("example dataset sizes must be positive (image sizes >= 16): " + this);
      }
    }
  }

  /** What was written. */
  public record Summary(Path root, int t2iSamples, int editSamples, int vlmSamples, Path datasetInfo,
      Path groupsYaml) {}

  static final Schema T2I_SCHEMA = new Schema(List.of(
      Field.nullable("image", ArrowType.Binary.INSTANCE),
      Field.nullable("captions", ArrowType.Utf8.INSTANCE)));

  static final Schema EDIT_SCHEMA = new Schema(List.of(
      new Field("image_list", FieldType.nullable(ArrowType.List.INSTANCE),
          List.of(Field.nullable("item", ArrowType.Binary.INSTANCE))),
      new Field("instruction_list", FieldType.nullable(ArrowType.List.INSTANCE),
          List.of(new Field("item", FieldType.nullable(ArrowType.List.INSTANCE),
              List.of(Field.nullable("item", ArrowType.Utf8.INSTANCE)))))));

  private static final ObjectMapper JSON = new ObjectMapper();

  private ExampleDataset() {}

  /** Writes the example under {@code root} (created if needed; existing example files are overwritten). */
  public static Summary write(Path root, Options o) throws IOException {
    Files.createDirectories(root);
    SplittableRandom rng = new SplittableRandom(o.seed());
    int t2i = writeT2i(root.resolve("t2i"), o, rng.split());
    int edit = writeEdit(root.resolve("editing"), o, rng.split());
    int vlm = writeVlm(root.resolve("vlm"), o, rng.split());
    Path info = root.resolve("dataset_info.yaml");
    Files.writeString(info, datasetInfoYaml(o, t2i, edit, vlm));
    Path groups = root.resolve("example.yaml");
    Files.writeString(groups, groupsYaml(o, vlm));
    writeMessages(root, o, rng.split());
    return new Summary(root, t2i, edit, vlm, info, groups);
  }

  private static int writeT2i(Path dir, Options o, SplittableRandom rng) throws IOException {
    Files.createDirectories(dir);
    int n = 0;
    for (int f = 0; f < o.t2iFiles(); f++) {
      List<List<Object[]>> groups = new ArrayList<>();
      for (int g = 0; g < o.rowGroupsPerFile(); g++) {
        List<Object[]> rows = new ArrayList<>();
        for (int r = 0; r < o.rowsPerGroup(); r++) {
          ShapeScene s = ShapeScene.random(rng);
          rows.add(new Object[] {png(s, o.imageSize()), JSON.writeValueAsString(s.captions())});
          n++;
        }
        groups.add(rows);
      }
      RecordWriters.writeParquet(dir.resolve(partName(f)), T2I_SCHEMA, groups);
    }
    return n;
  }

  private static int writeEdit(Path dir, Options o, SplittableRandom rng) throws IOException {
    Path data = Files.createDirectories(dir.resolve("seedxedit_multi"));
    Path infoDir = Files.createDirectories(dir.resolve("parquet_info"));
    Map<String, Object> parquetInfo = new LinkedHashMap<>();
    int n = 0;
    for (int f = 0; f < o.editFiles(); f++) {
      List<List<Object[]>> groups = new ArrayList<>();
      for (int g = 0; g < o.rowGroupsPerFile(); g++) {
        List<Object[]> rows = new ArrayList<>();
        for (int r = 0; r < o.rowsPerGroup(); r++) {
          rows.add(editRow(o.imageSize(), rng));
          n++;
        }
        groups.add(rows);
      }
      Path file = data.resolve(partName(f));
      RecordWriters.writeParquet(file, EDIT_SCHEMA, groups);
      long[] rowGroups = ParquetFooter.rowGroupRows(file);
      long rows = 0;
      for (long r : rowGroups) {
        rows += r;
      }
      parquetInfo.put("editing/seedxedit_multi/" + partName(f),
          Map.of("num_row_groups", rowGroups.length, "num_rows", rows));
    }
    Files.write(infoDir.resolve("seedxedit_multi_nas.json"),
        JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(parquetInfo));
    return n;
  }

  /** Three pictures, each one edit of the previous: recolour the shape, then change background or shape. */
  private static Object[] editRow(int size, SplittableRandom rng) {
    ShapeScene a = ShapeScene.random(rng);
    ShapeScene b = a.withColour(ShapeScene.otherThan(rng, a.colour(), a.background()));
    ShapeScene c;
    if (rng.nextBoolean()) {
      c = b.withBackground(ShapeScene.otherThan(rng, b.colour(), b.background()));
    } else {
      Shape other;
      do {
        other = Shape.values()[rng.nextInt(Shape.values().length)];
      } while (other == b.shape());
      c = b.withShape(other);
    }
    return new Object[] {List.of(png(a, size), png(b, size), png(c, size)),
        List.of(a.instructionsTo(b), b.instructionsTo(c))};
  }

  private static int writeVlm(Path dir, Options o, SplittableRandom rng) throws IOException {
    Path images = Files.createDirectories(dir.resolve("images"));
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < o.vlmRecords(); i++) {
      ShapeScene s = ShapeScene.random(rng);
      String name = String.format("%06d.png", i);
      Files.write(images.resolve(name), png(s, o.vlmImageSize()));
      List<String[]> qa = new ArrayList<>(s.questions());
      String[] first = qa.remove(rng.nextInt(qa.size()));
      String[] second = qa.get(rng.nextInt(qa.size()));
      Map<String, Object> rec = new LinkedHashMap<>();
      rec.put("id", "shapes-" + i);
      rec.put("image", name);
      rec.put("conversations", List.of(
          Map.of("from", "human", "value", "<image>\n" + first[0]),
          Map.of("from", "gpt", "value", first[1]),
          Map.of("from", "human", "value", second[0]),
          Map.of("from", "gpt", "value", second[1])));
      lines.add(JSON.writeValueAsString(rec));
    }
    Files.write(dir.resolve("llava_ov_si.jsonl"), lines, StandardCharsets.UTF_8);
    return o.vlmRecords();
  }

  /**
   * LMMS Engine's {@code messages} form of the same world, for configs in that dialect: per scene an
   * understanding conversation (user image + question, assistant answer) and a generation one (user asks for
   * the caption, the assistant's image is the target). Image paths are relative to {@code root}.
   */
  private static void writeMessages(Path root, Options o, SplittableRandom rng) throws IOException {
    Path images = Files.createDirectories(root.resolve("messages/images"));
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < o.vlmRecords(); i++) {
      ShapeScene s = ShapeScene.random(rng);
      String name = String.format("%06d.png", i);
      Files.write(images.resolve(name), png(s, o.vlmImageSize()));
      String url = "messages/images/" + name;
      String[] qa = s.questions().get(rng.nextInt(s.questions().size()));
      lines.add(JSON.writeValueAsString(Map.of("messages", List.of(
          Map.of("role", "user", "content", List.of(
              Map.of("type", "image_url", "image_url", Map.of("url", url)),
              Map.of("type", "text", "text", qa[0]))),
          Map.of("role", "assistant", "content", List.of(Map.of("type", "text", "text", qa[1])))))));
      List<String> captions = new ArrayList<>(s.captions().values());
      String caption = captions.get(rng.nextInt(captions.size()));
      lines.add(JSON.writeValueAsString(Map.of("messages", List.of(
          Map.of("role", "user", "content", List.of(Map.of("type", "text", "text", "Draw " + caption + "."))),
          Map.of("role", "assistant", "content", List.of(
              Map.of("type", "image_url", "image_url", Map.of("url", url))))))));
    }
    Files.write(root.resolve("messages.jsonl"), lines, StandardCharsets.UTF_8);
  }

  private static String datasetInfoYaml(Options o, int t2i, int edit, int vlm) {
    return "# Dataset registry of the example (the reference keeps this table in data/dataset_info.py).\n"
        + "# Paths are relative to this file.\n"
        + "t2i_pretrain:\n"
        + "  t2i:\n"
        + "    data_dir: t2i\n"
        + "    num_files: " + o.t2iFiles() + "\n"
        + "    num_total_samples: " + t2i + "\n"
        + "unified_edit:\n"
        + "  seedxedit_multi:\n"
        + "    data_dir: editing/seedxedit_multi\n"
        + "    num_files: " + o.editFiles() + "\n"
        + "    num_total_samples: " + edit + "\n"
        + "    parquet_info_path: editing/parquet_info/seedxedit_multi_nas.json\n"
        + "vlm_sft:\n"
        + "  llava_ov:\n"
        + "    data_dir: vlm/images\n"
        + "    jsonl_path: vlm/llava_ov_si.jsonl\n"
        + "    num_total_samples: " + vlm + "\n";
  }

  /** The reference's example.yaml with transforms sized for the small pictures. */
  private static String groupsYaml(Options o, int vlm) {
    int side = o.imageSize();
    int vae = Math.max(16, Math.round(side / 16f) * 16);
    int vit = Math.max(14, Math.round(side / 14f) * 14);
    int vlmVit = Math.max(14, Math.round(o.vlmImageSize() / 14f) * 14);
    return "# Dataset groups of the example, in the reference's schema (data/configs/example.yaml).\n"
        + "dataset_info: dataset_info.yaml\n"
        + "\n"
        + "t2i_pretrain:\n"
        + "  dataset_names:\n"
        + "  - t2i\n"
        + "  image_transform_args:\n"
        + "    image_stride: 16\n"
        + "    max_image_size: " + vae + "\n"
        + "    min_image_size: " + Math.max(16, vae / 2) + "\n"
        + "  is_mandatory: true\n"
        + "  num_used_data: # parquet files; the sum should be larger than NUM_GPUS x NUM_WORKERS\n"
        + "  - " + o.t2iFiles() + "\n"
        + "  weight: 1\n"
        + "\n"
        + "unified_edit:\n"
        + "  dataset_names:\n"
        + "  - seedxedit_multi\n"
        + "  image_transform_args:\n"
        + "    image_stride: 16\n"
        + "    max_image_size: " + vae + "\n"
        + "    min_image_size: " + Math.max(16, vae / 2) + "\n"
        + "  vit_image_transform_args:\n"
        + "    image_stride: 14\n"
        + "    max_image_size: " + vit + "\n"
        + "    min_image_size: " + Math.max(14, vit / 2) + "\n"
        + "  is_mandatory: false\n"
        + "  num_used_data:\n"
        + "  - " + o.editFiles() + "\n"
        + "  weight: 1\n"
        + "\n"
        + "vlm_sft:\n"
        + "  dataset_names:\n"
        + "  - llava_ov\n"
        + "  image_transform_args:\n"
        + "    image_stride: 14\n"
        + "    max_image_size: " + vlmVit + "\n"
        + "    min_image_size: " + Math.max(14, vlmVit / 2) + "\n"
        + "    max_pixels: " + (vlmVit * vlmVit) + "\n"
        + "  frame_sampler_args:\n"
        + "    max_num_frames: 4\n"
        + "    min_num_frames: 2\n"
        + "  is_mandatory: true\n"
        + "  shuffle_lines: true\n"
        + "  shuffle_seed: 0\n"
        + "  num_used_data:\n"
        + "  - " + vlm + "\n"
        + "  weight: 1\n";
  }

  private static String partName(int i) {
    return String.format("part-%05d.parquet", i);
  }

  static byte[] png(ShapeScene s, int size) {
    BufferedImage img = ShapePainter.paint(s, size);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      if (!ImageIO.write(img, "png", out)) {
        throw new IllegalStateException("no PNG writer");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** {@code ExampleDataset <dir> [seed]}. */
  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: ExampleDataset <dir> [seed]");
      System.exit(2);
    }
    Options o = Options.DEFAULTS;
    if (args.length > 1) {
      o = new Options(Long.parseLong(args[1]), o.imageSize(), o.t2iFiles(), o.editFiles(), o.rowGroupsPerFile(),
          o.rowsPerGroup(), o.vlmRecords(), o.vlmImageSize());
    }
    Summary s = write(Path.of(args[0]), o);
    System.out.println("wrote " + s);
  }
}
