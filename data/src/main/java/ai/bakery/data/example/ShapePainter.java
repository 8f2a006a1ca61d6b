package ai.bakery.data.example;

import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.image.BufferedImage;

/**
 * Draws a {@link ShapeScene}: flat colours, no antialiasing, so every pixel is exactly the shape's or the
 * background's colour and the centre pixel is always the shape's.
 */
public final class ShapePainter {
  private ShapePainter() {}

  public static BufferedImage paint(ShapeScene scene, int size) {
    BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setColor(scene.background().rgb());
      g.fillRect(0, 0, size, size);
      g.setColor(scene.colour().rgb());
      int side = (int) Math.round(size * scene.scale());
      int x0 = (size - side) / 2;
      int y0 = (size - side) / 2;
      switch (scene.shape()) {
        case CIRCLE -> g.fillOval(x0, y0, side, side);
        case SQUARE -> g.fillRect(x0, y0, side, side);
        case TRIANGLE -> g.fillPolygon(new Polygon(new int[] {size / 2, x0 + side, x0},
            new int[] {y0, y0 + side, y0 + side}, 3));
      }
    } finally {
      g.dispose();
    }
    return img;
  }
}
