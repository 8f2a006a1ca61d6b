package ai.bakery.data.testing;

import ai.bakery.data.group.TransformFactory;
import ai.bakery.data.plan.TextEncoder;
import ai.bakery.data.source.records.RecordWriters;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes a small real dataset (T2I parquet and VLM JSONL with PNG images), its dataset-info registry and its
 * dataset YAML, for pipeline tests.
 */
public final class TinyDatasets {
  /** Each word becomes one id in [1, 1024]. */
  public static final TextEncoder WORDS = text -> text.isBlank() ? new int[0]
      : Arrays.stream(text.trim().split("\\s+")).mapToInt(w -> (w.hashCode() & 1023) + 1).toArray();

  /** Crops to the largest multiple of the stride (a stand-in for the resize, deterministic and cheap). */
  public static final TransformFactory CROP = args -> (image, n) -> {
    int s = args.imageStride();
    int h = Math.max(s, image.getHeight() / s * s);
    int w = Math.max(s, image.getWidth() / s * s);
    return PlanFixtures.toChw(image.getSubimage(0, 0, Math.min(w, image.getWidth()),
        Math.min(h, image.getHeight())), n);
  };

  private TinyDatasets() {}

  /**
   * Writes under {@code root}: {@code t2i/part-{0,1}.parquet} (3 row groups of 4 rows each),
   * {@code vlm/data.jsonl} ({@code vlmRows} records) with images in {@code vlm/images}, {@code dataset_info.yaml}
   * and {@code datasets.yaml} (t2i mandatory, as the reference's example); returns the dataset YAML.
   */
  public static Path write(Path root, int vlmRows) throws IOException {
    Path t2i = Files.createDirectories(root.resolve("t2i"));
    Schema schema = new Schema(List.of(
        new Field("image", FieldType.nullable(new ArrowType.Binary()), null),
        new Field("captions", FieldType.nullable(new ArrowType.Utf8()), null)));
    int row = 0;
    for (int f = 0; f < 2; f++) {
      List<List<Object[]>> groups = new ArrayList<>();
      for (int g = 0; g < 3; g++) {
        List<Object[]> rows = new ArrayList<>();
        for (int r = 0; r < 4; r++, row++) {
          String caption = words(row, 2 + (row * 7) % 23);
          rows.add(new Object[] {png(16 * (1 + row % 2), 16 * (1 + (row / 2) % 2), row),
              "{\"a\": \"" + caption + "\", \"b\": \"" + words(row + 100, 3) + "\"}"});
        }
        groups.add(rows);
      }
      RecordWriters.writeParquet(t2i.resolve("part-" + f + ".parquet"), schema, groups);
    }
    Path vlm = Files.createDirectories(root.resolve("vlm/images"));
    StringBuilder jsonl = new StringBuilder();
    for (int i = 0; i < vlmRows; i++) {
      Files.write(vlm.resolve("img" + i + ".png"), png(28, 28 + 14 * (i % 2), 1000 + i));
      jsonl.append("{\"image\": \"img").append(i).append(".png\", \"conversations\": [")
          .append("{\"from\": \"human\", \"value\": \"<image>\\n").append(words(i + 500, 2 + i % 5)).append("\"}, ")
          .append("{\"from\": \"gpt\", \"value\": \"").append(words(i + 900, 1 + (i * 5) % 17)).append("\"}]}\n");
    }
    Files.writeString(root.resolve("vlm/data.jsonl"), jsonl.toString());
    Files.writeString(root.resolve("dataset_info.yaml"), """
        t2i_pretrain:
          t2i:
            data_dir: t2i
            num_files: 2
            num_total_samples: 24
        vlm_sft:
          llava_tiny:
            data_dir: vlm/images
            jsonl_path: vlm/data.jsonl
            num_total_samples: %d
        """.formatted(vlmRows));
    Path yaml = root.resolve("datasets.yaml");
    Files.writeString(yaml, """
        dataset_info: dataset_info.yaml
        t2i_pretrain:
          dataset_names:
          - t2i
          image_transform_args:
            image_stride: 16
            max_image_size: 64
            min_image_size: 16
          is_mandatory: true
          num_used_data:
          - 2
          weight: 1
        vlm_sft:
          dataset_names:
          - llava_tiny
          image_transform_args:
            image_stride: 14
            max_image_size: 56
            min_image_size: 14
          is_mandatory: false
          num_used_data:
          - %d
          weight: 2
        """.formatted(vlmRows));
    return yaml;
  }

  private static String words(int seed, int n) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      b.append(i == 0 ? "" : " ").append("w").append((seed * 31 + i * 17) % 97);
    }
    return b.toString();
  }

  static byte[] png(int h, int w, int seed) throws IOException {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int v = (seed * 13 + y * 5 + x * 3) & 255;
        img.setRGB(x, y, (v << 16) | ((255 - v) << 8) | ((v * 7) & 255));
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, "png", out);
    return out.toByteArray();
  }
}
