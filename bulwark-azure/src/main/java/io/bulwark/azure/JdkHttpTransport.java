package io.bulwark.azure;

import com.azure.core.http.HttpClient;
import com.azure.core.http.HttpHeader;
import com.azure.core.http.HttpHeaderName;
import com.azure.core.http.HttpHeaders;
import com.azure.core.http.HttpRequest;
import com.azure.core.http.HttpResponse;
import com.azure.core.util.BinaryData;
import com.azure.core.util.Context;
import com.azure.core.util.CoreUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.Charset;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * The Azure SDK's HTTP transport on the JDK's {@link java.net.http.HttpClient}, in place of the SDK's default
 * Netty one (and of {@code azure-core-http-jdk-httpclient}, which Maven Central does not serve here), so that the
 * Azure backend adds no second Netty to a Bulwark process.
 *
 * <p>Every exchange is bounded: connecting by {@code timeout}, and the whole exchange (sending the request body,
 * receiving headers and body) by {@code timeout} too, after which it is cancelled and fails with an {@link
 * HttpTimeoutException}. That is sound because {@link AzureBlobStore} never sends or receives more than one 4 MiB
 * block per request, so responses are read whole into memory. Failures surface as {@link UncheckedIOException}
 * around the {@link IOException}, which the storage retry policy recognises as retryable.
 */
final class JdkHttpTransport implements HttpClient, AutoCloseable {
  /** Headers the JDK client sets itself and refuses from callers. */
  private static final Set<String> RESTRICTED = Set.of("connection", "content-length", "expect", "host", "upgrade");

  private final java.net.http.HttpClient client;
  private final Duration timeout;

  JdkHttpTransport(Duration timeout) {
    this.timeout = timeout;
    this.client = java.net.http.HttpClient.newBuilder()
        .version(java.net.http.HttpClient.Version.HTTP_1_1) // no h2c upgrade attempts on http:// (Azurite)
        .followRedirects(java.net.http.HttpClient.Redirect.NEVER)
        .connectTimeout(timeout)
        .build();
  }

  @Override
  public Mono<HttpResponse> send(HttpRequest request) {
    return Mono.fromCallable(() -> sendSync(request, Context.NONE)).subscribeOn(Schedulers.boundedElastic());
  }

  @Override
  public Mono<HttpResponse> send(HttpRequest request, Context context) {
    return send(request);
  }

  @Override
  public HttpResponse sendSync(HttpRequest request, Context context) {
    CompletableFuture<java.net.http.HttpResponse<byte[]>> exchange =
        client.sendAsync(toJdk(request), BodyHandlers.ofByteArray());
    try {
      java.net.http.HttpResponse<byte[]> response = exchange.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      HttpHeaders headers = new HttpHeaders();
      response.headers().map().forEach((name, values) -> {
        if (!name.startsWith(":")) headers.set(HttpHeaderName.fromString(name), values);
      });
      return new Response(request, response.statusCode(), headers, response.body());
    } catch (TimeoutException e) {
      exchange.cancel(true);
      throw new UncheckedIOException(new HttpTimeoutException(
          "no complete answer from " + request.getUrl().getHost() + ":" + request.getUrl().getPort() + " within "
              + timeout.toMillis() + " ms"));
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) throw new UncheckedIOException(io);
      if (cause instanceof RuntimeException r) throw r;
      throw new IllegalStateException(cause);
    } catch (InterruptedException e) {
      exchange.cancel(true);
      Thread.currentThread().interrupt();
      throw new UncheckedIOException(new InterruptedIOException("interrupted while waiting for Azure"));
    }
  }

  private static java.net.http.HttpRequest toJdk(HttpRequest request) {
    java.net.http.HttpRequest.Builder builder;
    try {
      builder = java.net.http.HttpRequest.newBuilder(request.getUrl().toURI());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("the Azure SDK built an invalid URL: " + e.getMessage(), e);
    }
    for (HttpHeader header : request.getHeaders()) {
      if (RESTRICTED.contains(header.getName().toLowerCase(Locale.ROOT))) continue;
      for (String value : header.getValuesList()) builder.header(header.getName(), value);
    }
    BinaryData body = request.getBodyAsBinaryData();
    byte[] bytes = body == null ? new byte[0] : body.toBytes(); // at most one block: see the class comment
    return builder.method(request.getHttpMethod().name(),
        bytes.length == 0 ? BodyPublishers.noBody() : BodyPublishers.ofByteArray(bytes)).build();
  }

  @Override
  public void close() {
    client.shutdownNow();
  }

  /** A response whose body has been read whole. */
  private static final class Response extends HttpResponse {
    private final int status;
    private final HttpHeaders headers;
    private final byte[] body;

    Response(HttpRequest request, int status, HttpHeaders headers, byte[] body) {
      super(request);
      this.status = status;
      this.headers = headers;
      this.body = body;
    }

    @Override
    public int getStatusCode() {
      return status;
    }

    @Override
    @Deprecated
    public String getHeaderValue(String name) {
      return headers.getValue(HttpHeaderName.fromString(name));
    }

    @Override
    public HttpHeaders getHeaders() {
      return headers;
    }

    @Override
    public Flux<ByteBuffer> getBody() {
      return Flux.defer(() -> body.length == 0 ? Flux.empty() : Flux.just(ByteBuffer.wrap(body).asReadOnlyBuffer()));
    }

    @Override
    public Mono<byte[]> getBodyAsByteArray() {
      return Mono.just(body);
    }

    @Override
    public Mono<String> getBodyAsString() {
      return Mono.fromSupplier(() -> CoreUtils.bomAwareToString(body, headers.getValue(HttpHeaderName.CONTENT_TYPE)));
    }

    @Override
    public Mono<String> getBodyAsString(Charset charset) {
      return Mono.fromSupplier(() -> new String(body, charset));
    }

    @Override
    public BinaryData getBodyAsBinaryData() {
      return BinaryData.fromBytes(body);
    }

    @Override
    public InputStream getBodyAsInputStreamSync() {
      return new ByteArrayInputStream(body);
    }

    @Override
    public HttpResponse buffer() {
      return this;
    }
  }
}
