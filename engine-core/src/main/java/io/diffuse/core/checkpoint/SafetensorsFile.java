package io.diffuse.core.checkpoint;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * One safetensors file opened for reading: the header is parsed and checked up front (every offset
 * in range, no overlaps, sizes matching dtype x shape), so a truncated file fails before any tensor
 * is mapped. A tensor read in its stored type whose offset is aligned for its element is a view of
 * the mapped file (zero copy); any other is converted or copied from a mapping released at once.
 *
 * <p>Format: 8-byte little-endian header length N, N bytes of JSON
 * {@code {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}}, then the data
 * region that offsets are relative to.
 */
final class SafetensorsFile implements AutoCloseable {
    /** Headers larger than this are refused (the safetensors reference implementation uses the same bound). */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SafetensorsFile.class);

    /** One tensor's header entry; offsets are absolute file positions. */
    record Entry(String name, SafetensorsDType dtype, long[] shape, long start, long length) {
        long numel() {
            long n = 1;
            for (long s : shape) {
                n = Math.multiplyExact(n, s);
            }
            return n;
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final Map<String, Entry> entries;
    private final long fileSize;
    /** The file mapped for zero-copy tensors; null until the first one is read. */
    private Tensor zeroCopyMapping;

    private SafetensorsFile(Path path, FileChannel channel, Map<String, Entry> entries, long fileSize) {
        this.path = path;
        this.channel = channel;
        this.entries = entries;
        this.fileSize = fileSize;
    }

    /**
     * Why an I/O call failed, in words: java.nio's file exceptions carry only the path as their
     * message (an unreadable file says just its name), so the kind is named here.
     */
    static String reason(IOException e) {
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "no such file";
        }
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    /** Opens and validates {@code path}. */
    static SafetensorsFile open(Path path) {
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new DiffuseException("cannot open safetensors file " + path + ": " + reason(e), e);
        }
        try {
            return new SafetensorsFile(path, channel, readHeader(path, channel), channel.size());
        } catch (IOException e) {
            closeQuietly(channel);
            throw new DiffuseException("cannot read safetensors file " + path + ": " + reason(e), e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    private static Map<String, Entry> readHeader(Path path, FileChannel channel) {
        long fileSize;
        ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        try {
            fileSize = channel.size();
            if (fileSize < 8) {
                throw new DiffuseException("safetensors file " + path + " is truncated: " + fileSize
                        + " bytes, less than the 8-byte header length; re-download or re-export it");
            }
            readFully(channel, lengthBytes, 0);
        } catch (IOException e) {
            throw new DiffuseException("cannot read safetensors file " + path + ": " + reason(e), e);
        }
        long headerLength = lengthBytes.flip().getLong();
        if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
            throw new DiffuseException("safetensors file " + path + " declares a header of " + Long.toUnsignedString(headerLength)
                    + " bytes, more than the " + MAX_HEADER_BYTES + "-byte limit: the file is corrupt or not safetensors");
        }
        if (8 + headerLength > fileSize) {
            throw new DiffuseException("safetensors file " + path + " is truncated: its header needs " + (8 + headerLength)
                    + " bytes but the file has " + fileSize + "; re-download or re-export it");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
        try {
            readFully(channel, headerBytes, 8);
        } catch (IOException e) {
            throw new DiffuseException("cannot read safetensors header of " + path + ": " + reason(e), e);
        }
        String json = new String(headerBytes.array(), StandardCharsets.UTF_8);
        ConfigObject root;
        try {
            root = ConfigFactory.parseString(json, ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON)).root();
        } catch (ConfigException e) {
            throw new DiffuseException("safetensors file " + path + " has an unparsable JSON header: " + e.getMessage(), e);
        }
        long dataStart = 8 + headerLength;
        long dataSize = fileSize - dataStart;
        List<Entry> list = new ArrayList<>();
        for (Map.Entry<String, ConfigValue> e : root.entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            list.add(parseEntry(path, e.getKey(), e.getValue(), dataStart, dataSize));
        }
        // Offsets must describe disjoint regions: sort by start and compare neighbours.
        list.sort(Comparator.comparingLong(Entry::start));
        for (int i = 1; i < list.size(); i++) {
            Entry prev = list.get(i - 1);
            Entry cur = list.get(i);
            if (cur.length() > 0 && prev.start() + prev.length() > cur.start()) {
                throw new DiffuseException("safetensors file " + path + " has overlapping tensors '" + prev.name() + "' and '"
                        + cur.name() + "': their data_offsets share bytes; the header is corrupt");
            }
        }
        Map<String, Entry> byName = new LinkedHashMap<>();
        list.stream().sorted(Comparator.comparing(Entry::name)).forEach(en -> byName.put(en.name(), en));
        return Collections.unmodifiableMap(byName);
    }

    private static Entry parseEntry(Path path, String name, ConfigValue value, long dataStart, long dataSize) {
        String where = "tensor '" + name + "' in safetensors file " + path;
        if (value.valueType() != ConfigValueType.OBJECT) {
            throw new DiffuseException(where + ": header entry is not an object");
        }
        ConfigObject obj = (ConfigObject) value;
        ConfigValue dtypeValue = obj.get("dtype");
        if (dtypeValue == null || dtypeValue.valueType() != ConfigValueType.STRING) {
            throw new DiffuseException(where + ": header entry has no string 'dtype'");
        }
        SafetensorsDType dtype = SafetensorsDType.ofCode((String) dtypeValue.unwrapped());
        if (dtype == null) {
            throw new DiffuseException(where + ": unsupported dtype '" + dtypeValue.unwrapped() + "'; supported: "
                    + SafetensorsDType.supportedCodes());
        }
        long[] shape = longs(where, "shape", obj.get("shape"), -1);
        long[] offsets = longs(where, "data_offsets", obj.get("data_offsets"), 2);
        for (long s : shape) {
            if (s < 0) {
                throw new DiffuseException(where + ": negative dimension in shape " + Arrays.toString(shape));
            }
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (begin < 0 || end < begin) {
            throw new DiffuseException(where + ": data_offsets " + Arrays.toString(offsets) + " are not an increasing pair");
        }
        if (end > dataSize) {
            throw new DiffuseException(where + ": data ends at byte " + end + " of the data region but only " + dataSize
                    + " bytes follow the header: the file is truncated or its header is wrong; re-download or re-export it");
        }
        Entry entry = new Entry(name, dtype, shape, dataStart + begin, end - begin);
        long expected;
        try {
            expected = Math.multiplyExact(entry.numel(), dtype.bytes);
        } catch (ArithmeticException e) {
            throw new DiffuseException(where + ": shape " + Arrays.toString(shape) + " is too large");
        }
        if (expected != end - begin) {
            throw new DiffuseException(where + ": data_offsets " + Arrays.toString(offsets) + " span " + (end - begin)
                    + " bytes but dtype " + dtype.code + " x shape " + Arrays.toString(shape) + " needs " + expected
                    + "; the header is corrupt");
        }
        return entry;
    }

    private static long[] longs(String where, String field, ConfigValue value, int requiredLength) {
        if (value == null || value.valueType() != ConfigValueType.LIST) {
            throw new DiffuseException(where + ": header entry has no list '" + field + "'");
        }
        ConfigList list = (ConfigList) value;
        if (requiredLength >= 0 && list.size() != requiredLength) {
            throw new DiffuseException(where + ": '" + field + "' must have " + requiredLength + " entries, has " + list.size());
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = list.get(i).unwrapped();
            if (!(v instanceof Integer || v instanceof Long)) {
                throw new DiffuseException(where + ": '" + field + "' entry " + v + " is not an integer");
            }
            out[i] = ((Number) v).longValue();
        }
        return out;
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long pos = position;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    Path path() {
        return path;
    }

    /** Header entries by name, sorted by name. */
    Map<String, Entry> entries() {
        return entries;
    }

    /**
     * Reads tensor {@code name} as {@code target} (null: as stored): a view of the mapped file when no
     * conversion is due and the data is aligned, else a fresh tensor that owns its memory. The
     * returned tensor is attached to the caller's innermost PointerScope, if any.
     */
    Tensor read(String name, ScalarType target) {
        return read(name, target, false);
    }

    /**
     * As {@link #read(String, ScalarType)}; {@code owned} copies even a tensor that could be a view of
     * the mapping, for inputs whose files their writer may rewrite.
     */
    Tensor read(String name, ScalarType target, boolean owned) {
        Entry entry = entries.get(name);
        if (entry == null) {
            throw new DiffuseException("no tensor '" + name + "' in safetensors file " + path);
        }
        if (target != null && !entry.dtype().isFloating() && target != entry.dtype().scalarType) {
            throw new DiffuseException("tensor '" + name + "' in safetensors file " + path + " is stored as "
                    + entry.dtype().code + " and cannot be converted to a floating run dtype");
        }
        PointerScope outer = PointerScope.getInnerScope();
        try (PointerScope scope = new PointerScope()) {
            Tensor result = readInScope(entry, target, owned);
            if (outer != null) {
                outer.attach(result);
            } else {
                result.retainReference();
            }
            return result;
        }
    }

    private Tensor readInScope(Entry entry, ScalarType target, boolean owned) {
        ScalarType stored = entry.dtype().scalarType;
        ScalarType out = target == null ? stored : target;
        if (entry.length() == 0) {
            return torch.empty(entry.shape(), new TensorOptions(out), new MemoryFormatOptional());
        }
        boolean aligned = entry.start() % entry.dtype().bytes == 0;
        if (out == stored && aligned && !owned) {
            // Zero copy: the tensor is the file's pages, shared with the page cache and every process
            // mapping the same file; the mapping lives as long as any tensor over it.
            return view(fileMapping(), entry, stored);
        }
        if (out == stored && !aligned) {
            LOG.debug("tensor '{}' in {} starts at byte {}, not a multiple of its {}-byte element: copied, not mapped",
                    entry.name(), path, entry.start(), entry.dtype().bytes);
        }
        // Converted (or unaligned): map the file for this tensor only, copy or convert, and unmap at
        // once (the mapping's tensors are freed when this read's PointerScope closes), so no file
        // pages stay resident behind the converted copy.
        Tensor mapping = mapFile();
        Tensor bytes = mapping.narrow(0, entry.start(), entry.length());
        if (!aligned) {
            // A fresh allocation is aligned for any element type; it is the result when no conversion is due.
            Tensor copied = bytes.clone().view(stored).view(entry.shape());
            return out == stored ? copied : copied.to(out);
        }
        Tensor source = bytes.view(stored).view(entry.shape());
        return out == stored ? source.clone() : source.to(out);
    }

    /** The whole file mapped copy-on-write as one uint8 tensor, mapped once and shared by zero-copy tensors. */
    private synchronized Tensor fileMapping() {
        if (zeroCopyMapping == null) {
            try (PointerScope scope = new PointerScope()) {
                zeroCopyMapping = mapFile();
                zeroCopyMapping.retainReference();
            }
        }
        return zeroCopyMapping;
    }

    /**
     * Maps the file with libtorch's MapAllocator (read-only descriptor, MAP_PRIVATE): pages are the
     * page cache's until written, and a write to a tensor over them goes to a private copy, never
     * to the file or to other processes.
     */
    private Tensor mapFile() {
        try {
            return torch.from_file(path.toString(), new BoolOptional(false), new LongOptional(fileSize),
                    new TensorOptions(ScalarType.Byte));
        } catch (RuntimeException e) {
            throw new DiffuseException("cannot map safetensors file " + path + ": " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    private static Tensor view(Tensor mapping, Entry entry, ScalarType stored) {
        return mapping.narrow(0, entry.start(), entry.length()).view(stored).view(entry.shape());
    }

    @Override
    public void close() {
        closeQuietly(channel);
        synchronized (this) {
            if (zeroCopyMapping != null) {
                // Tensors read zero-copy keep the mapping alive through their storage.
                zeroCopyMapping.releaseReference();
                zeroCopyMapping = null;
            }
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing useful to do: the file was only read
        }
    }
}
