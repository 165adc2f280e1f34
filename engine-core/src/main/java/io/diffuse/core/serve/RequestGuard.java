package io.diffuse.core.serve;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.CrossOriginHandler;
import org.eclipse.jetty.util.Callback;

/**
 * What a request must be before the API sees it, against other web pages in the user's browser:
 * <ul>
 * <li>its {@code Host} is a name this server answers to: any IP address the server may be reached
 * at, {@code localhost}, the bound host name, or {@code diffuse.serve.allowed-hosts} (a DNS-rebinding
 * page reaches a loopback server under its own name, so its requests carry that name);</li>
 * <li>a browser's request from another origin ({@code Origin} other than the server's own) only when
 * {@code diffuse.serve.cors-origins} allows it; Jetty's {@link CrossOriginHandler} then answers the
 * preflight and adds the CORS headers. Others are refused before they do anything (a "simple"
 * cross-origin POST is not preflighted: refusing only to share the answer would still run it).</li>
 * </ul>
 * A JSON body must also say so ({@link #requireJson}): a page may send {@code text/plain} anywhere
 * without a preflight, {@code application/json} only where CORS allows. And the playground's
 * {@code autorun} (which submits the form it opens with) is dropped when another site navigated the
 * browser there, so a link cannot submit a job in the user's name.
 */
final class RequestGuard extends Handler.Wrapper {
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final Pattern AUTORUN = Pattern.compile("(^|&)autorun(=[^&]*)?(?=&|$)");

    private final Handler api;
    private final String boundHost;
    private final InetAddress boundAddress;
    private final boolean wildcard;
    private final List<String> allowedHosts;
    private final boolean anyHost;
    private final Set<String> corsOrigins = new LinkedHashSet<>();
    private final boolean anyOrigin;

    /**
     * @param api the API's handler (same-origin and non-browser requests go straight to it)
     */
    RequestGuard(ServeSettings settings, Handler api) {
        this.api = api;
        String host = settings.host() == null ? "" : settings.host().trim().toLowerCase(Locale.ROOT);
        this.boundHost = unbracket(host);
        this.boundAddress = literal(boundHost);
        this.wildcard = boundHost.isEmpty() || (boundAddress != null && boundAddress.isAnyLocalAddress());
        this.allowedHosts = settings.allowedHosts().stream().map(h -> unbracket(h.toLowerCase(Locale.ROOT))).toList();
        this.anyHost = allowedHosts.contains("*");
        settings.corsOrigins().forEach(o -> corsOrigins.add(o.toLowerCase(Locale.ROOT).replaceAll("/+$", "")));
        this.anyOrigin = corsOrigins.contains("*");
        CrossOriginHandler cors = new CrossOriginHandler();
        // Exact origins: the handler's entries are regular expressions, so each is quoted.
        cors.setAllowedOriginPatterns(anyOrigin ? Set.of("*") : Set.copyOf(corsOrigins.stream().map(Pattern::quote).toList()));
        cors.setAllowedMethods(Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"));
        // "*" covers any header but Authorization (Fetch standard), which is named.
        cors.setAllowedHeaders(Set.of("*", "Authorization", "Content-Type"));
        cors.setExposedHeaders(Set.of("x-video-id", "openai-poll-after-ms", "retry-after", "content-disposition"));
        cors.setAllowCredentials(false); // API keys travel in Authorization, never in cookies
        cors.setPreflightMaxAge(Duration.ofMinutes(10));
        cors.setHandler(api);
        setHandler(cors);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        String host = request.getHeaders().get(HttpHeader.HOST);
        if (host != null && !hostAllowed(nameOf(host))) {
            return ApiErrorHandler.write(response, callback, new ApiError(403, "permission_error", null, "host_not_allowed",
                    "Host '" + host + "' is not a name this server answers to (a page under another name could be a"
                            + " DNS-rebinding attack); if clients reach the server by this name, add it to"
                            + " diffuse.serve.allowed-hosts"));
        }
        String site = request.getHeaders().get("Sec-Fetch-Site");
        String query = request.getHttpURI().getQuery();
        if (site != null && !site.equals("none") && !site.equals("same-origin") && Request.getPathInContext(request).equals("/")
                && query != null && AUTORUN.matcher(query).find()) {
            String rest = AUTORUN.matcher(query).replaceAll("").replaceAll("^&", "");
            response.setStatus(303);
            response.getHeaders().put(HttpHeader.LOCATION, "/" + (rest.isEmpty() ? "" : "?" + rest));
            callback.succeeded();
            return true;
        }
        String origin = request.getHeaders().get(HttpHeader.ORIGIN);
        if (origin == null || sameOrigin(origin, host)) {
            return api.handle(request, response, callback);
        }
        if (anyOrigin || corsOrigins.contains(origin.trim().toLowerCase(Locale.ROOT))) {
            return super.handle(request, response, callback); // CORS headers, preflight answered
        }
        return ApiErrorHandler.write(response, callback, new ApiError(403, "permission_error", null, "origin_not_allowed",
                "requests from web pages of " + origin + " are refused (cross-origin); to let that site's pages call this"
                        + " server, add it to diffuse.serve.cors-origins"));
    }

    /** Whether a Host header's name (without its port) is one this server answers to. */
    boolean hostAllowed(String name) {
        String n = unbracket(name.toLowerCase(Locale.ROOT));
        if (anyHost || n.equals("localhost") || n.endsWith(".localhost") || n.equals(boundHost)) {
            return true;
        }
        InetAddress ip = literal(n);
        if (ip != null) {
            // No DNS name, no rebinding: a page cannot make a browser send an address other than its own.
            return wildcard || ip.isLoopbackAddress() || ip.equals(boundAddress) || allowedHosts.contains(n);
        }
        for (String allowed : allowedHosts) {
            if (n.equals(allowed) || (allowed.startsWith(".") && (n.endsWith(allowed) || n.equals(allowed.substring(1))))) {
                return true;
            }
        }
        return false;
    }

    /** The server's own origin: the page's scheme, name and port are those the request reached the server by. */
    private static boolean sameOrigin(String origin, String host) {
        if (host == null) {
            return false;
        }
        try {
            URI o = URI.create(origin.trim());
            if (o.getHost() == null || o.getScheme() == null) {
                return false; // "null": a sandboxed frame, a file:// page
            }
            int defaultPort = o.getScheme().equalsIgnoreCase("https") ? 443 : 80;
            int originPort = o.getPort() < 0 ? defaultPort : o.getPort();
            String hostPortText = portOf(host);
            int hostPort = hostPortText == null ? defaultPort : Integer.parseInt(hostPortText);
            return unbracket(o.getHost().toLowerCase(Locale.ROOT)).equals(unbracket(nameOf(host).toLowerCase(Locale.ROOT)))
                    && originPort == hostPort;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * 415 unless the request says its body is JSON ({@code application/json}, any parameters): a web
     * page can send a {@code text/plain} or form body anywhere without asking (no preflight).
     *
     * @param contentType the Content-Type header, or null
     * @param multipartToo whether the endpoint also takes multipart/form-data (named in the message)
     */
    static void requireJson(String contentType, boolean multipartToo) {
        String mime = contentType == null ? "" : contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
        if (!mime.equals("application/json")) {
            throw new ApiError(415, "invalid_request_error", null, "unsupported_media_type", (contentType == null
                    ? "the request has no Content-Type" : "Content-Type '" + contentType + "' is not taken here")
                    + "; send the body as application/json" + (multipartToo ? " (or multipart/form-data)" : ""));
        }
    }

    /** "name:port", "[v6]:port", "name" -> the name part. */
    private static String nameOf(String host) {
        String h = host.trim();
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            return end < 0 ? h : h.substring(0, end + 1);
        }
        int colon = h.lastIndexOf(':');
        return colon < 0 || h.indexOf(':') != colon ? h : h.substring(0, colon);
    }

    private static String portOf(String host) {
        String h = host.trim();
        int from = h.startsWith("[") ? h.indexOf(']') + 1 : 0;
        int colon = h.indexOf(':', from);
        return colon < 0 || (from == 0 && h.indexOf(':', colon + 1) >= 0) ? null : h.substring(colon + 1);
    }

    private static String unbracket(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    /** The address an IP literal names (no DNS lookup), or null for a name. */
    private static InetAddress literal(String host) {
        if (!IPV4.matcher(host).matches() && !host.contains(":")) {
            return null;
        }
        try {
            return InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
