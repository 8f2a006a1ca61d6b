package ai.bakery.data.source.records;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The row-group layout of a parquet file, read from its footer without Hadoop or decoding any data. The
 * footer is a Thrift compact-protocol {@code FileMetaData}; only {@code row_groups[i].num_rows} is kept,
 * everything else is skipped field by field. Arrow Java's dataset API cannot list row groups, and sharding
 * needs them before any data is read.
 */
public final class ParquetFooter {
  private static final byte[] MAGIC = "PAR1".getBytes(StandardCharsets.US_ASCII);
  private static final int MAX_FOOTER = 256 << 20;

  private ParquetFooter() {}

  /** Row count of each row group, in file order. */
  public static long[] rowGroupRows(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 12) {
        throw new IOException("not a parquet file (only " + size + " bytes): " + file);
      }
      ByteBuffer tail = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, tail, size - 8, file);
      tail.flip();
      int len = tail.getInt();
      byte[] magic = new byte[4];
      tail.get(magic);
      if (!java.util.Arrays.equals(magic, MAGIC)) {
        throw new IOException("not a parquet file (no PAR1 trailer): " + file);
      }
      if (len <= 0 || len > MAX_FOOTER || len > size - 12) {
        throw new IOException("corrupt parquet footer length " + len + ": " + file);
      }
      ByteBuffer meta = ByteBuffer.allocate(len);
      readFully(ch, meta, size - 8 - len, file);
      meta.flip();
      try {
        return new CompactReader(meta).fileMetaDataRowGroups();
      } catch (RuntimeException e) {
        throw new IOException("corrupt parquet footer in " + file + ": " + e.getMessage(), e);
      }
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path file) throws IOException {
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos + buf.position());
      if (n < 0) {
        throw new IOException("unexpected end of file reading parquet footer: " + file);
      }
    }
  }

  /** Just enough of the Thrift compact protocol to walk FileMetaData. */
  private static final class CompactReader {
    private static final int STOP = 0;
    private static final int TRUE = 1;
    private static final int FALSE = 2;
    private static final int BYTE = 3;
    private static final int I16 = 4;
    private static final int I32 = 5;
    private static final int I64 = 6;
    private static final int DOUBLE = 7;
    private static final int BINARY = 8;
    private static final int LIST = 9;
    private static final int SET = 10;
    private static final int MAP = 11;
    private static final int STRUCT = 12;

    private final ByteBuffer in;

    CompactReader(ByteBuffer in) {
      this.in = in;
    }

    /** FileMetaData: field 4 is list&lt;RowGroup&gt;; RowGroup field 3 is num_rows (i64). */
    long[] fileMetaDataRowGroups() {
      List<Long> rows = new ArrayList<>();
      short fieldId = 0;
      while (true) {
        int header = in.get() & 0xff;
        int type = header & 0x0f;
        if (type == STOP) {
          break;
        }
        fieldId = nextFieldId(header, fieldId);
        if (fieldId == 4 && type == LIST) {
          int[] list = listHeader();
          for (int i = 0; i < list[0]; i++) {
            rows.add(rowGroupNumRows());
          }
        } else {
          skip(type);
        }
      }
      long[] out = new long[rows.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = rows.get(i);
      }
      return out;
    }

    private long rowGroupNumRows() {
      long numRows = -1;
      short fieldId = 0;
      while (true) {
        int header = in.get() & 0xff;
        int type = header & 0x0f;
        if (type == STOP) {
          break;
        }
        fieldId = nextFieldId(header, fieldId);
        if (fieldId == 3 && type == I64) {
          numRows = zigzag(varint());
        } else {
          skip(type);
        }
      }
      if (numRows < 0) {
        throw new IllegalStateException("row group without num_rows");
      }
      return numRows;
    }

    private short nextFieldId(int header, short previous) {
      int delta = header >>> 4;
      return delta == 0 ? (short) zigzag(varint()) : (short) (previous + delta);
    }

    /** Returns {size, elementType}. */
    private int[] listHeader() {
      int b = in.get() & 0xff;
      int size = b >>> 4;
      if (size == 15) {
        size = (int) varint();
      }
      return new int[] {size, b & 0x0f};
    }

    private void skip(int type) {
      switch (type) {
        case TRUE, FALSE -> { }
        case BYTE -> in.get();
        case I16, I32, I64 -> varint();
        case DOUBLE -> in.position(in.position() + 8);
        case BINARY -> {
          int len = (int) varint();
          in.position(in.position() + len);
        }
        case LIST, SET -> {
          int[] h = listHeader();
          for (int i = 0; i < h[0]; i++) {
            skipElement(h[1]);
          }
        }
        case MAP -> {
          int size = (int) varint();
          if (size > 0) {
            int kv = in.get() & 0xff;
            for (int i = 0; i < size; i++) {
              skipElement(kv >>> 4);
              skipElement(kv & 0x0f);
            }
          }
        }
        case STRUCT -> {
          short id = 0;
          while (true) {
            int header = in.get() & 0xff;
            int t = header & 0x0f;
            if (t == STOP) {
              break;
            }
            id = nextFieldId(header, id);
            skip(t);
          }
        }
        default -> throw new IllegalStateException("unknown thrift compact type " + type);
      }
    }

    /** In collections, booleans take a whole byte. */
    private void skipElement(int type) {
      if (type == TRUE || type == FALSE) {
        in.get();
      } else {
        skip(type);
      }
    }

    private long varint() {
      long result = 0;
      int shift = 0;
      while (true) {
        int b = in.get() & 0xff;
        result |= (long) (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
          return result;
        }
        shift += 7;
        if (shift > 63) {
          throw new IllegalStateException("varint too long");
        }
      }
    }

    private static long zigzag(long n) {
      return (n >>> 1) ^ -(n & 1);
    }
  }
}
