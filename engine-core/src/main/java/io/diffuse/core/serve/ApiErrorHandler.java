package io.diffuse.core.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's own error answers (a request line it cannot parse: 400, a URI too long: 414, headers too
 * large: 431, ...) in the OpenAI error body every other answer of the server uses, instead of
 * Jetty's HTML page, so that clients parse one shape.
 */
final class ApiErrorHandler extends ErrorHandler {

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        int status = response.getStatus();
        String message = (String) request.getAttribute(ERROR_MESSAGE);
        Throwable cause = (Throwable) request.getAttribute(ERROR_EXCEPTION);
        if (cause instanceof HttpException http) {
            status = http.getCode();
            if (message == null) {
                message = http.getReason();
            }
        }
        if (status < 400) {
            status = 500;
        }
        String code = switch (status) {
            case 400 -> "bad_request";
            case 413 -> "body_too_large";
            case 414 -> "uri_too_long";
            case 431 -> "headers_too_large";
            default -> null;
        };
        String explained = switch (status) {
            case 414 -> "the request URI is longer than this server reads";
            case 431 -> "the request headers are larger than this server reads";
            default -> message == null || message.isBlank() ? HttpStatus.getMessage(status) : message;
        };
        ApiError error = new ApiError(status, status >= 500 ? "server_error" : "invalid_request_error", null, code,
                "HTTP " + status + ": " + explained);
        if (HttpStatus.hasNoBody(status) || request.getMethod().equals("HEAD")) {
            response.setStatus(status);
            callback.succeeded();
            return true;
        }
        return write(response, callback, error);
    }

    /** Writes {@code error} as {@code {"error": {"message", "type", "param", "code"}}} with its status. */
    static boolean write(Response response, Callback callback, ApiError error) {
        Map<String, Object> err = new LinkedHashMap<>();
        err.put("message", error.getMessage());
        err.put("type", error.type);
        err.put("param", error.param);
        err.put("code", error.code);
        byte[] body;
        try {
            body = StrictJson.MAPPER.writeValueAsBytes(Map.of("error", err));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        response.setStatus(error.status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
        return true;
    }
}
