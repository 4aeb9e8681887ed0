package io.bulwark.azure;

import com.azure.core.util.BinaryData;
import com.azure.core.util.Context;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.BlobErrorCode;
import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.models.ListBlobsOptions;
import com.azure.storage.blob.options.BlobInputStreamOptions;
import com.azure.storage.blob.options.BlockBlobCommitBlockListOptions;
import com.azure.storage.blob.options.BlockBlobSimpleUploadOptions;
import com.azure.storage.blob.options.BlockBlobStageBlockOptions;
import com.azure.storage.blob.specialized.BlockBlobClient;
import com.azure.storage.common.policy.RequestRetryOptions;
import com.azure.storage.common.policy.RetryPolicyType;
import io.bulwark.core.BulwarkException;
import io.bulwark.core.blob.BlobException;
import io.bulwark.core.blob.BlobRef;
import io.bulwark.core.blob.BlobStore;
import io.bulwark.core.blob.VerifyingInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link BlobStore} keeping each blob as a block blob in one container of one Azure Storage account: key
 * {@code a/b/c} is the blob named {@code a/b/c}. Works against real Azure and against Azurite.
 *
 * <p>{@link #put} streams: it reads the data in 4 MiB blocks, hashing SHA-256 as it goes (Azure itself only keeps
 * MD5), and sends a blob of one block as a single Put Blob, a larger one as staged blocks (two in flight at a time)
 * committed by one Put Block List. Either way the new blob appears at once, whole, so a reader sees the old blob or
 * the new one; a put that fails midway commits nothing (staged blocks are discarded by Azure). The hex SHA-256 is
 * stored in the blob's metadata ({@code sha256}) for audits; reads verify against the {@link BlobRef}, never against
 * the metadata. Every block carries its Content-MD5, so Azure rejects bytes damaged in transit. Reads stream in
 * 4 MiB ranges pinned to the blob's ETag, and throw {@link BlobException.Corrupt} naming the key and both hashes.
 * Two large puts racing for one key may see the loser fail (InvalidBlockList), never a mixed blob.
 *
 * <p>Nothing waits forever: connecting and each HTTP exchange (at most one 4 MiB block) are bounded by the timeout
 * (10 s by default), and a failed exchange is tried twice in all, 200 ms apart. A refused connection therefore fails
 * in well under a second and a blackholed endpoint within about twice the timeout. A link slower than 4 MiB per
 * timeout needs a longer timeout. Failures are one line naming the account, container or endpoint and the remedy;
 * the account key and the connection string appear in no message, log line or {@link #toString()}.
 *
 * <p>The store is thread-safe. {@link #close()} releases the HTTP client.
 */
public final class AzureBlobStore implements BlobStore {
  private static final Logger log = LoggerFactory.getLogger(AzureBlobStore.class);
  /** Default bound on connecting and on each HTTP exchange. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
  /** The metadata entry holding the hex SHA-256 of the blob's bytes. */
  public static final String SHA256_METADATA = "sha256";
  static final int BLOCK = 4 * 1024 * 1024;
  private static final int MAX_CONCURRENCY = 2;
  private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;
  private static final byte[] EMPTY = new byte[0];
  private static final Pattern CONTAINER_NAME = Pattern.compile("(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]");

  private final BlobContainerClient container;
  private final JdkHttpTransport transport;
  private final String account;
  private final String endpoint;
  private final Duration timeout;

  private AzureBlobStore(BlobServiceClient service, String container, JdkHttpTransport transport, Duration timeout) {
    this.container = service.getBlobContainerClient(container);
    this.transport = transport;
    this.account = service.getAccountName();
    this.endpoint = service.getAccountUrl();
    this.timeout = timeout;
  }

  /** {@link #connect(String, String, boolean, Duration)} with the {@link #DEFAULT_TIMEOUT}. */
  public static AzureBlobStore connect(String connectionString, String container, boolean createContainerIfMissing) {
    return connect(connectionString, container, createContainerIfMissing, DEFAULT_TIMEOUT);
  }

  /**
   * Opens the store on a container, given a connection string such as {@code DefaultEndpointsProtocol=https;
   * AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net} (or with {@code BlobEndpoint=...} for Azurite),
   * and probes it: an unreachable endpoint, a refused key or a missing container fails here, in one line. The
   * container is created only if {@code createContainerIfMissing}.
   */
  public static AzureBlobStore connect(
      String connectionString, String container, boolean createContainerIfMissing, Duration timeout) {
    Objects.requireNonNull(connectionString, "connectionString");
    Objects.requireNonNull(container, "container");
    if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be positive");
    if (!CONTAINER_NAME.matcher(container).matches()) {
      throw new BulwarkException("invalid Azure container name '" + container + "': use 3-63 lower-case letters, digits"
          + " and single hyphens, starting and ending with a letter or digit");
    }
    JdkHttpTransport transport = new JdkHttpTransport(timeout);
    try {
      AzureBlobStore store = new AzureBlobStore(service(connectionString, transport, timeout), container, transport, timeout);
      store.probe(createContainerIfMissing);
      return store;
    } catch (RuntimeException e) {
      transport.close();
      throw e;
    }
  }

  /** Checks at start-up that the endpoint answers, accepts the key and has the container; one line if not. */
  public static void validate(String connectionString, String container) {
    connect(connectionString, container, false).close();
  }

  private static BlobServiceClient service(String connectionString, JdkHttpTransport transport, Duration timeout) {
    try {
      return new BlobServiceClientBuilder()
          .connectionString(connectionString)
          .httpClient(transport)
          // the storage policy's own per-try timeout cannot interrupt a synchronous call; the transport bounds it
          .retryOptions(new RequestRetryOptions(RetryPolicyType.FIXED, 2, timeout.multipliedBy(3),
              Duration.ofMillis(200), Duration.ofMillis(200), null))
          .buildClient();
    } catch (RuntimeException e) { // its message may quote the string; name only the keys present
      List<String> keys = Arrays.stream(connectionString.split(";")).map(p -> p.split("=", 2)[0].trim())
          .filter(k -> !k.isEmpty()).toList();
      throw new BulwarkException("invalid Azure Storage connection string (it has the keys " + keys + "): expected"
          + " DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;BlobEndpoint=... or EndpointSuffix=...");
    }
  }

  private void probe(boolean createIfMissing) {
    try {
      if (container.exists()) return;
      if (!createIfMissing) throw new BulwarkException(missingContainer());
      container.createIfNotExists();
      log.info("created Azure container {} in storage account {}", container.getBlobContainerName(), account);
    } catch (BulwarkException e) {
      throw e;
    } catch (RuntimeException e) {
      String why = reason(e);
      if (why.startsWith("cannot reach") || transientStatus(e)) throw new io.bulwark.core.blob.BlobException.Unavailable(why, e);
      throw new BulwarkException(why, e);
    }
  }

  @Override
  public BlobRef put(String key, InputStream data) {
    Objects.requireNonNull(data, "data");
    BlockBlobClient blob = blob(key);
    MessageDigest sha = digest("SHA-256");
    try {
      byte[] block = readBlock(data, sha, key);
      byte[] next = after(block, data, sha, key);
      if (next.length == 0) {
        String hex = HexFormat.of().formatHex(sha.digest());
        blob.uploadWithResponse(new BlockBlobSimpleUploadOptions(BinaryData.fromBytes(block))
            .setContentMd5(digest("MD5").digest(block)).setMetadata(Map.of(SHA256_METADATA, hex)), null, Context.NONE);
        return new BlobRef(key, block.length, hex);
      }
      // Block ids: one length for every block of a blob; the writer's UUID keeps racing writers' blocks apart.
      String writer = UUID.randomUUID().toString();
      List<String> ids = new ArrayList<>();
      Deque<Future<?>> inFlight = new ArrayDeque<>();
      long size = 0;
      try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
        for (; block.length > 0; block = next, next = after(next, data, sha, key)) {
          String id = Base64.getEncoder().encodeToString(
              String.format("%s-%06d", writer, ids.size()).getBytes(StandardCharsets.US_ASCII));
          ids.add(id);
          size += block.length;
          if (inFlight.size() == MAX_CONCURRENCY) await(inFlight.removeFirst());
          BinaryData bytes = BinaryData.fromBytes(block);
          byte[] md5 = digest("MD5").digest(block);
          inFlight.add(pool.submit(() -> blob.stageBlockWithResponse(
              new BlockBlobStageBlockOptions(id, bytes).setContentMd5(md5), null, Context.NONE)));
        }
        while (!inFlight.isEmpty()) await(inFlight.removeFirst());
      }
      String hex = HexFormat.of().formatHex(sha.digest());
      blob.commitBlockListWithResponse(
          new BlockBlobCommitBlockListOptions(ids).setMetadata(Map.of(SHA256_METADATA, hex)), null, Context.NONE);
      return new BlobRef(key, size, hex);
    } catch (BlobException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new BlobException("storing blob '" + key + "' in " + describe() + " failed: " + reason(e), e);
    }
  }

  @Override
  public byte[] get(BlobRef ref) {
    if (ref.size() > MAX_ARRAY) {
      throw new BlobException("blob '" + ref.key() + "' is " + ref.size()
          + " bytes, too large to read into memory; stream it with open() instead");
    }
    try (InputStream in = open(ref)) {
      byte[] data = new byte[(int) ref.size()];
      in.readNBytes(data, 0, data.length);
      in.read(); // reaches end of data, where the stream verifies size and checksum
      return data;
    } catch (IOException e) {
      throw new BlobException("reading blob '" + ref.key() + "' from " + describe() + " failed: " + reason(e), e);
    }
  }

  @Override
  public InputStream open(BlobRef ref) {
    try {
      return new VerifyingInputStream(blob(ref.key()).openInputStream(new BlobInputStreamOptions().setBlockSize(BLOCK)), ref, describe());
    } catch (BlobStorageException e) {
      if (e.getStatusCode() == 404 && !BlobErrorCode.CONTAINER_NOT_FOUND.equals(e.getErrorCode())) {
        throw new BlobException.NotFound(describe(), ref.key());
      }
      throw new BlobException("opening blob '" + ref.key() + "' in " + describe() + " failed: " + reason(e), e);
    } catch (RuntimeException e) {
      throw new BlobException("opening blob '" + ref.key() + "' in " + describe() + " failed: " + reason(e), e);
    }
  }

  @Override
  public boolean exists(String key) {
    BlockBlobClient blob = blob(key);
    try {
      return blob.exists();
    } catch (RuntimeException e) {
      throw new BlobException("checking blob '" + key + "' in " + describe() + " failed: " + reason(e), e);
    }
  }

  @Override
  public boolean delete(String key) {
    BlockBlobClient blob = blob(key);
    try {
      return blob.deleteIfExists();
    } catch (RuntimeException e) {
      throw new BlobException("deleting blob '" + key + "' from " + describe() + " failed: " + reason(e), e);
    }
  }

  @Override
  public List<String> list(String prefix) {
    Objects.requireNonNull(prefix, "prefix");
    try {
      ListBlobsOptions options = new ListBlobsOptions().setPrefix(prefix.isEmpty() ? null : prefix);
      List<String> keys = new ArrayList<>();
      for (BlobItem item : container.listBlobs(options, null)) {
        if (isValidKey(item.getName())) keys.add(item.getName()); // blobs others put under foreign names
      }
      keys.sort(null);
      return keys;
    } catch (RuntimeException e) {
      throw new BlobException("listing blobs with prefix '" + prefix + "' in " + describe() + " failed: " + reason(e), e);
    }
  }

  @Override
  public String describe() {
    return "azure://" + account + "/" + container.getBlobContainerName();
  }

  @Override
  public String toString() {
    return "AzureBlobStore[" + describe() + "]";
  }

  @Override
  public void close() {
    transport.close();
  }

  /** The SDK client of the container, for tests that reach behind the store. */
  BlobContainerClient container() {
    return container;
  }

  private BlockBlobClient blob(String key) {
    BlobStore.validateKey(key);
    return container.getBlobClient(key).getBlockBlobClient();
  }

  private String missingContainer() {
    String name = container.getBlobContainerName();
    return "Azure container '" + name + "' does not exist in storage account " + account + ": create it (az storage"
        + " container create --account-name " + account + " --name " + name + ") or set createContainerIfMissing";
  }

  /** Azure answering that it cannot serve now (408, 429, 5xx: a regional outage, throttling): try again later. */
  private static boolean transientStatus(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BlobStorageException s) return s.getStatusCode() == 408 || s.getStatusCode() == 429 || s.getStatusCode() >= 500;
    }
    return false;
  }

  /** One line saying why a call failed, from the first cause that tells; never quotes the key or the request. */
  private String reason(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BlobStorageException s) {
        String code = s.getErrorCode() == null ? "HTTP " + s.getStatusCode() : s.getErrorCode().toString();
        if (s.getStatusCode() == 403) {
          return "Azure refused the account key of " + account + " (" + code + "): check the connection string";
        }
        if (BlobErrorCode.CONTAINER_NOT_FOUND.equals(s.getErrorCode())) return missingContainer();
        return "Azure answered HTTP " + s.getStatusCode() + " (" + code + ")";
      }
      if (t instanceof ConnectException) return unreachable("connection refused");
      if (t instanceof HttpTimeoutException) return unreachable("no answer within " + timeout.toMillis() + " ms");
      if (t instanceof UnknownHostException) return unreachable("unknown host");
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof IOException) return unreachable(String.valueOf(t.getMessage()).lines().findFirst().orElse(""));
    }
    return String.valueOf(e).lines().findFirst().orElse("");
  }

  private String unreachable(String why) {
    return "cannot reach Azure Blob endpoint " + endpoint + ": " + why;
  }

  private static byte[] readBlock(InputStream data, MessageDigest sha, String key) {
    try {
      byte[] block = data.readNBytes(BLOCK);
      sha.update(block);
      return block;
    } catch (IOException e) {
      throw new BlobException("reading the data for blob '" + key + "' failed, so nothing was stored: " + e, e);
    }
  }

  /** The block after a full one; none after a short one, which ended the data. */
  private static byte[] after(byte[] block, InputStream data, MessageDigest sha, String key) {
    return block.length < BLOCK ? EMPTY : readBlock(data, sha, key);
  }

  private static void await(Future<?> staged) {
    try {
      staged.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) throw r;
      throw new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BlobException("interrupted while staging blocks", e);
    }
  }

  private static boolean isValidKey(String key) {
    try {
      BlobStore.validateKey(key);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static MessageDigest digest(String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime provides " + algorithm, e);
    }
  }
}
