package ai.bakery.data.pack;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Lossless conversion between a {@link PackedBatch} and one Arrow record batch, and its IPC stream bytes.
 *
 * <p>Layout: a record batch of exactly <b>one row</b>; every key is one column named as the reference's key
 * (snake_case). Scalars are {@code int32}; arrays are {@code list<int32>}, {@code list<float32>} or
 * {@code list<utf8>} holding the whole array in that one row. Multi-dimensional arrays are flattened row-major
 * with their shape in a companion column:
 *
 * <pre>
 *   sequence_length              int32
 *   vit_patch_dim                int32          (packed_vit_tokens is (n, vit_patch_dim))
 *   sample_lens, split_lens      list&lt;int32&gt;
 *   attn_modes, sample_keys      list&lt;utf8&gt;
 *   packed_text_ids, packed_text_indexes, packed_position_ids                    list&lt;int32&gt;
 *   padded_images                list&lt;float32&gt;  (N, 3, H, W) row-major
 *   padded_images_shape          list&lt;int32&gt;    [N, 3, H, W]
 *   patchified_vae_latent_shapes list&lt;int32&gt;    [h0, w0, h1, w1, ...]
 *   packed_latent_position_ids, packed_vae_token_indexes, mse_loss_indexes      list&lt;int32&gt;
 *   packed_timesteps             list&lt;float32&gt;  (-inf for clean conditions)
 *   packed_vit_tokens            list&lt;float32&gt;
 *   packed_vit_position_ids, packed_vit_token_indexes, vit_token_seqlens        list&lt;int32&gt;
 *   packed_label_ids, ce_loss_indexes                                            list&lt;int32&gt;
 *   ce_loss_weights              list&lt;float32&gt;
 * </pre>
 *
 * Floats are stored bit-exactly, so a round trip gives {@link PackedBatch#contentEquals} batches.
 */
public final class PackedBatchArrow {
  private static final ArrowType INT = new ArrowType.Int(32, true);
  private static final ArrowType FLOAT = new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
  private static final ArrowType UTF8 = new ArrowType.Utf8();

  /** The schema every packed-batch record batch has. */
  public static final Schema SCHEMA = new Schema(List.of(
      scalar("sequence_length"),
      scalar("vit_patch_dim"),
      list("sample_lens", INT),
      list("split_lens", INT),
      list("attn_modes", UTF8),
      list("packed_text_ids", INT),
      list("packed_text_indexes", INT),
      list("packed_position_ids", INT),
      list("padded_images", FLOAT),
      list("padded_images_shape", INT),
      list("patchified_vae_latent_shapes", INT),
      list("packed_latent_position_ids", INT),
      list("packed_vae_token_indexes", INT),
      list("packed_timesteps", FLOAT),
      list("mse_loss_indexes", INT),
      list("packed_vit_tokens", FLOAT),
      list("packed_vit_position_ids", INT),
      list("packed_vit_token_indexes", INT),
      list("vit_token_seqlens", INT),
      list("packed_label_ids", INT),
      list("ce_loss_indexes", INT),
      list("ce_loss_weights", FLOAT),
      list("sample_keys", UTF8)));

  private PackedBatchArrow() {}

  private static Field scalar(String name) {
    return new Field(name, FieldType.notNullable(INT), null);
  }

  private static Field list(String name, ArrowType element) {
    Field item = new Field("item", FieldType.notNullable(element), null);
    return new Field(name, FieldType.notNullable(ArrowType.List.INSTANCE), List.of(item));
  }

  /** The batch as a one-row record batch; the caller closes the root. */
  public static VectorSchemaRoot toArrow(PackedBatch b, BufferAllocator allocator) {
    VectorSchemaRoot root = VectorSchemaRoot.create(SCHEMA, allocator);
    try {
      setScalar(root, "sequence_length", b.sequenceLength());
      setScalar(root, "vit_patch_dim", b.vitPatchDim());
      setInts(root, "sample_lens", b.sampleLens());
      setInts(root, "split_lens", b.splitLens());
      setStrings(root, "attn_modes", b.attnModes());
      setInts(root, "packed_text_ids", b.packedTextIds());
      setInts(root, "packed_text_indexes", b.packedTextIndexes());
      setInts(root, "packed_position_ids", b.packedPositionIds());
      setFloats(root, "padded_images", b.paddedImages());
      setInts(root, "padded_images_shape", b.paddedImagesShape());
      setInts(root, "patchified_vae_latent_shapes", b.patchifiedVaeLatentShapes());
      setInts(root, "packed_latent_position_ids", b.packedLatentPositionIds());
      setInts(root, "packed_vae_token_indexes", b.packedVaeTokenIndexes());
      setFloats(root, "packed_timesteps", b.packedTimesteps());
      setInts(root, "mse_loss_indexes", b.mseLossIndexes());
      setFloats(root, "packed_vit_tokens", b.packedVitTokens());
      setInts(root, "packed_vit_position_ids", b.packedVitPositionIds());
      setInts(root, "packed_vit_token_indexes", b.packedVitTokenIndexes());
      setInts(root, "vit_token_seqlens", b.vitTokenSeqlens());
      setInts(root, "packed_label_ids", b.packedLabelIds());
      setInts(root, "ce_loss_indexes", b.ceLossIndexes());
      setFloats(root, "ce_loss_weights", b.ceLossWeights());
      setStrings(root, "sample_keys", b.sampleKeys());
      root.setRowCount(1);
      return root;
    } catch (RuntimeException e) {
      root.close();
      throw e;
    }
  }

  /** Reads row 0 of a record batch with {@link #SCHEMA}; throws naming a missing or mistyped column. */
  public static PackedBatch fromArrow(VectorSchemaRoot root) {
    if (root.getRowCount() != 1) {
      throw new IllegalArgumentException("a packed batch is a one-row record batch, got " + root.getRowCount()
          + " rows");
    }
    return new PackedBatch(
        scalar(root, "sequence_length"),
        ints(root, "sample_lens"),
        ints(root, "split_lens"),
        strings(root, "attn_modes"),
        ints(root, "packed_text_ids"),
        ints(root, "packed_text_indexes"),
        ints(root, "packed_position_ids"),
        floats(root, "padded_images"),
        ints(root, "padded_images_shape"),
        ints(root, "patchified_vae_latent_shapes"),
        ints(root, "packed_latent_position_ids"),
        ints(root, "packed_vae_token_indexes"),
        floats(root, "packed_timesteps"),
        ints(root, "mse_loss_indexes"),
        floats(root, "packed_vit_tokens"),
        scalar(root, "vit_patch_dim"),
        ints(root, "packed_vit_position_ids"),
        ints(root, "packed_vit_token_indexes"),
        ints(root, "vit_token_seqlens"),
        ints(root, "packed_label_ids"),
        ints(root, "ce_loss_indexes"),
        floats(root, "ce_loss_weights"),
        strings(root, "sample_keys"));
  }

  /** The batch as Arrow IPC stream bytes (schema message + one record batch). */
  public static byte[] toIpcBytes(PackedBatch b, BufferAllocator allocator) {
    try (VectorSchemaRoot root = toArrow(b, allocator);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ArrowStreamWriter writer = new ArrowStreamWriter(root, null, out)) {
      writer.start();
      writer.writeBatch();
      writer.end();
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException("writing a packed batch as Arrow IPC", e);
    }
  }

  /** Reads the first record batch of IPC stream bytes written by {@link #toIpcBytes}. */
  public static PackedBatch fromIpcBytes(byte[] bytes, BufferAllocator allocator) {
    try (ArrowStreamReader reader = new ArrowStreamReader(new ByteArrayInputStream(bytes), allocator)) {
      if (!reader.loadNextBatch()) {
        throw new IllegalArgumentException("Arrow IPC stream holds no record batch");
      }
      return fromArrow(reader.getVectorSchemaRoot());
    } catch (IOException e) {
      throw new UncheckedIOException("reading a packed batch from Arrow IPC", e);
    }
  }

  /** {@link #toIpcBytes} with a private allocator. */
  public static byte[] toIpcBytes(PackedBatch b) {
    try (BufferAllocator a = new RootAllocator()) {
      return toIpcBytes(b, a);
    }
  }

  /** {@link #fromIpcBytes} with a private allocator. */
  public static PackedBatch fromIpcBytes(byte[] bytes) {
    try (BufferAllocator a = new RootAllocator()) {
      return fromIpcBytes(bytes, a);
    }
  }

  private static FieldVector column(VectorSchemaRoot root, String name) {
    FieldVector v = root.getVector(name);
    if (v == null) {
      throw new IllegalArgumentException("packed batch record batch lacks column " + name);
    }
    return v;
  }

  private static ListVector listColumn(VectorSchemaRoot root, String name) {
    if (!(column(root, name) instanceof ListVector list)) {
      throw new IllegalArgumentException("column " + name + " must be a list, got " + column(root, name).getField());
    }
    return list;
  }

  private static void setScalar(VectorSchemaRoot root, String name, int value) {
    IntVector v = (IntVector) column(root, name);
    v.allocateNew(1);
    v.set(0, value);
    v.setValueCount(1);
  }

  private static int scalar(VectorSchemaRoot root, String name) {
    if (!(column(root, name) instanceof IntVector v)) {
      throw new IllegalArgumentException("column " + name + " must be int32");
    }
    return v.get(0);
  }

  // Arrays are copied in bulk (little-endian, as Arrow buffers are): images make up most of a pack's bytes.

  private static void setInts(VectorSchemaRoot root, String name, int[] values) {
    ListVector list = listColumn(root, name);
    IntVector child = (IntVector) list.getDataVector();
    child.allocateNew(values.length);
    ByteBuffer bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    bytes.asIntBuffer().put(values);
    fill(child, bytes, values.length);
    closeRow(list, values.length);
  }

  private static void setFloats(VectorSchemaRoot root, String name, float[] values) {
    ListVector list = listColumn(root, name);
    Float4Vector child = (Float4Vector) list.getDataVector();
    child.allocateNew(values.length);
    ByteBuffer bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    bytes.asFloatBuffer().put(values);
    fill(child, bytes, values.length);
    closeRow(list, values.length);
  }

  private static void fill(FieldVector child, ByteBuffer bytes, int count) {
    child.getDataBuffer().setBytes(0, bytes);
    child.getValidityBuffer().setOne(0, (count + 7) / 8); // every element present
    child.setValueCount(count);
  }

  private static void setStrings(VectorSchemaRoot root, String name, String[] values) {
    ListVector list = listColumn(root, name);
    VarCharVector child = (VarCharVector) list.getDataVector();
    child.allocateNew(values.length);
    for (int i = 0; i < values.length; i++) {
      child.setSafe(i, values[i].getBytes(StandardCharsets.UTF_8));
    }
    child.setValueCount(values.length);
    closeRow(list, values.length);
  }

  private static void closeRow(ListVector list, int length) {
    list.startNewValue(0);
    list.endValue(0, length);
    list.setValueCount(1);
  }

  private static int[] ints(VectorSchemaRoot root, String name) {
    ListVector list = listColumn(root, name);
    if (!(list.getDataVector() instanceof IntVector child)) {
      throw new IllegalArgumentException("column " + name + " must be list<int32>");
    }
    int start = list.getElementStartIndex(0);
    int[] out = new int[list.getElementEndIndex(0) - start];
    child.getDataBuffer().nioBuffer((long) start * 4, out.length * 4).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer()
        .get(out);
    return out;
  }

  private static float[] floats(VectorSchemaRoot root, String name) {
    ListVector list = listColumn(root, name);
    if (!(list.getDataVector() instanceof Float4Vector child)) {
      throw new IllegalArgumentException("column " + name + " must be list<float32>");
    }
    int start = list.getElementStartIndex(0);
    float[] out = new float[list.getElementEndIndex(0) - start];
    child.getDataBuffer().nioBuffer((long) start * 4, out.length * 4).order(ByteOrder.LITTLE_ENDIAN)
        .asFloatBuffer().get(out);
    return out;
  }

  private static String[] strings(VectorSchemaRoot root, String name) {
    ListVector list = listColumn(root, name);
    if (!(list.getDataVector() instanceof VarCharVector child)) {
      throw new IllegalArgumentException("column " + name + " must be list<utf8>");
    }
    int start = list.getElementStartIndex(0);
    List<String> out = new ArrayList<>();
    for (int i = start; i < list.getElementEndIndex(0); i++) {
      out.add(new String(child.get(i), StandardCharsets.UTF_8));
    }
    return out.toArray(String[]::new);
  }
}
