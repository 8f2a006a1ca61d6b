package ai.bakery.data.source;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Resolves a media reference from a record (an image or video path, or URL) against the dataset's data root.
 * A local path must stay inside the root: {@code ..} segments, absolute paths elsewhere and symlinks that
 * lead out are refused ({@link SkipReason#PATH_OUTSIDE_DATA_ROOT}), so a dataset file cannot make training
 * read arbitrary files. http(s) URLs are refused ({@link SkipReason#URL_NOT_ALLOWED}) unless
 * {@code allow_urls} is set.
 */
public final class MediaResolver {
  private final Path root;
  private final Path realRoot;
  private final boolean allowUrls;

  /** A resolved reference: exactly one of {@code path} and {@code url} is set. */
  public record Media(Path path, URI url) {
    public String describe() {
      return path != null ? path.toString() : url.toString();
    }
  }

  public MediaResolver(Path root, boolean allowUrls) throws IOException {
    this.root = root.toAbsolutePath().normalize();
    this.realRoot = Files.exists(this.root) ? this.root.toRealPath() : this.root;
    this.allowUrls = allowUrls;
  }

  public Path root() {
    return root;
  }

  /** Resolves {@code ref}, checking the file exists. */
  public Media resolve(String ref) throws SkipException {
    if (ref == null || ref.isBlank()) {
      throw new SkipException(SkipReason.MISSING_IMAGE, "empty media path");
    }
    String lower = ref.toLowerCase(Locale.ROOT);
    if (lower.startsWith("http://") || lower.startsWith("https://")) {
      if (!allowUrls) {
        throw new SkipException(SkipReason.URL_NOT_ALLOWED, "url " + ref + " (set allow_urls to fetch urls)");
      }
      try {
        return new Media(null, new URI(ref));
      } catch (URISyntaxException e) {
        throw new SkipException(SkipReason.MISSING_IMAGE, "malformed url " + ref);
      }
    }
    String local = lower.startsWith("file://") ? ref.substring("file://".length()) : ref;
    Path rel;
    try {
      rel = Path.of(local);
    } catch (InvalidPathException e) {
      throw new SkipException(SkipReason.MISSING_IMAGE, "invalid path " + ref);
    }
    for (Path part : rel) {
      if (part.toString().equals("..")) {
        throw new SkipException(SkipReason.PATH_OUTSIDE_DATA_ROOT, "'..' in media path " + ref);
      }
    }
    Path p = root.resolve(rel).normalize();
    if (!p.startsWith(root)) {
      throw new SkipException(SkipReason.PATH_OUTSIDE_DATA_ROOT, ref + " is outside data root " + root);
    }
    if (!Files.exists(p)) {
      throw new SkipException(SkipReason.MISSING_IMAGE, "missing media file " + p);
    }
    try {
      if (!p.toRealPath().startsWith(realRoot)) {
        throw new SkipException(SkipReason.PATH_OUTSIDE_DATA_ROOT,
            ref + " leads outside data root " + root + " through a symlink");
      }
    } catch (IOException e) {
      throw new SkipException(SkipReason.MISSING_IMAGE, "unreadable media file " + p + ": " + e.getMessage());
    }
    return new Media(p, null);
  }
}
