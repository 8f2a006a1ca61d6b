package ai.bakery.data.source;

import ai.bakery.data.sample.Sample;
import ai.bakery.data.sample.SampleItem;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/** Images and item renderings shared by the reader tests. */
final class TestMedia {
  private TestMedia() {}

  static byte[] png(Color c, int w, int h) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setColor(c);
    g.fillRect(0, 0, w, h);
    g.dispose();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(img, "png", out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** One line per item: T(text|loss|drop) or I(vit,cond,target)@source. */
  static List<String> render(Sample s) {
    List<String> out = new ArrayList<>();
    for (SampleItem item : s.items()) {
      if (item instanceof SampleItem.Text t) {
        out.add("T(" + t.text() + (t.loss() ? "|loss" : "") + (t.droppable() ? "|drop" : "") + ")");
      } else if (item instanceof SampleItem.Image i) {
        out.add("I(" + (i.vit() ? "vit" : "") + (i.vaeCondition() ? "+cond" : "") + (i.vaeTarget() ? "+target" : "")
            + ")");
      }
    }
    return out;
  }

  /** Center pixel colour of an item's image. */
  static int centerRgb(SampleItem item) throws IOException {
    BufferedImage img = ((SampleItem.Image) item).source().load();
    return img.getRGB(img.getWidth() / 2, img.getHeight() / 2) & 0xffffff;
  }

  static List<PositionedSample> readAll(DatasetFormat format, DatasetSource source, SkipCounter skips)
      throws IOException {
    List<PositionedSample> out = new ArrayList<>();
    for (ShardUnit u : format.units(source)) {
      try (SampleCursor c = format.open(source, u, 0, skips)) {
        c.forEachRemaining(out::add);
      }
    }
    return out;
  }
}
