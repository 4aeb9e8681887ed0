package io.bulwark.core.handler;

import io.bulwark.core.BulwarkException;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** The task types this process knows, by name. Immutable once loaded. */
public final class HandlerRegistry {
  private static final Pattern TYPE = Pattern.compile("[a-z0-9][a-z0-9._-]{0,99}");

  private final Map<String, TaskHandler> handlers;

  private HandlerRegistry(Map<String, TaskHandler> handlers) {
    this.handlers = Collections.unmodifiableMap(handlers);
  }

  public static HandlerRegistry of(TaskHandler... handlers) {
    return of(List.of(handlers));
  }

  public static HandlerRegistry of(Iterable<TaskHandler> handlers) {
    Map<String, TaskHandler> byType = new TreeMap<>();
    for (TaskHandler h : handlers) {
      String type = h.type();
      if (type == null || !TYPE.matcher(type).matches()) {
        throw new BulwarkException(
            "handler " + h.getClass().getName() + " has invalid type '" + type + "': use 1-100 characters of"
                + " a-z, 0-9, '.', '_' or '-', starting with a letter or digit");
      }
      TaskHandler previous = byType.putIfAbsent(type, h);
      if (previous != null) {
        throw new BulwarkException(
            "two handlers claim task type '" + type + "': " + previous.getClass().getName() + " and "
                + h.getClass().getName() + "; remove one of the jars");
      }
    }
    return new HandlerRegistry(byType);
  }

  /**
   * Handlers on the class path plus those in {@code *.jar} files of {@code handlersDir} (which may be
   * missing or null).
   */
  public static HandlerRegistry load(Path handlersDir) {
    ClassLoader parent = HandlerRegistry.class.getClassLoader();
    ClassLoader loader = parent;
    if (handlersDir != null && Files.isDirectory(handlersDir)) {
      List<URL> jars = new ArrayList<>();
      try (Stream<Path> files = Files.list(handlersDir)) {
        refuseWritableByOthers(handlersDir, handlersDir);
        for (Path p : files.filter(f -> f.toString().endsWith(".jar")).sorted().toList()) {
          refuseWritableByOthers(p, handlersDir);
          jars.add(p.toUri().toURL());
        }
      } catch (MalformedURLException e) {
        throw new BulwarkException("cannot load handler jar: " + e.getMessage(), e);
      } catch (IOException e) {
        throw new BulwarkException("cannot list handler jars in " + handlersDir + ": " + e.getMessage(), e);
      }
      if (!jars.isEmpty()) loader = new URLClassLoader("bulwark-handlers", jars.toArray(URL[]::new), parent);
    }
    List<TaskHandler> found = new ArrayList<>();
    ServiceLoader.load(TaskHandler.class, loader).forEach(found::add);
    return of(found);
  }

  /**
   * A handler jar runs as this process, with the database password in its environment: a jar, or a
   * handlers directory, that other users may write is code execution for them. Refused at start.
   */
  private static void refuseWritableByOthers(Path p, Path handlersDir) throws IOException {
    java.util.Set<java.nio.file.attribute.PosixFilePermission> perms;
    try {
      perms = Files.getPosixFilePermissions(p);
    } catch (UnsupportedOperationException notPosix) {
      return;
    }
    if (perms.contains(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE)
        || perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE)) {
      throw new BulwarkException(p + " is writable by other users ("
          + java.nio.file.attribute.PosixFilePermissions.toString(perms) + "), and handler jars from " + handlersDir
          + " run inside Bulwark: make it writable by its owner only (chmod go-w " + p + ")");
    }
  }

  public Optional<TaskHandler> find(String type) {
    return Optional.ofNullable(handlers.get(type));
  }

  public boolean contains(String type) {
    return handlers.containsKey(type);
  }

  /** Known type names, sorted. */
  public List<String> types() {
    return List.copyOf(handlers.keySet());
  }
}
