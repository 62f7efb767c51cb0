package org.ssmpeft.api.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Binds a JSON/YAML object onto a method's config record, and back.
 *
 * <p>Fields are the record's components spelled in snake_case ({@code numVirtualTokens} is
 * {@code num_virtual_tokens}); a missing field takes the provider's default. Supported field types: int, long,
 * float, double, boolean (primitive or boxed), String, enums, and lists of those. Every problem is collected with its
 * path rather than stopping at the first, so {@code peft config validate} can report them all:
 * unknown fields (with the known ones and a spelling hint), wrong JSON types, values outside {@link Range}, unknown
 * enum constants, and whatever the record's constructor rejects ({@link InvalidFieldException}).
 */
public final class ConfigBinder {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private ConfigBinder() {
    }

    /** A field of a config record as {@code peft methods} lists it. */
    public record FieldInfo(String name, String type, String defaultValue, String doc) {
    }

    /** Config name of a record component: camelCase to snake_case. */
    public static String fieldName(RecordComponent c) {
        return c.getName().replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
    }

    /**
     * Binds {@code node}'s fields (except {@code reserved} keys such as {@code method}) onto {@code type}.
     *
     * @return the record, or empty when problems were found (then they are in {@code problems})
     */
    public static <C extends Record> Optional<C> bind(Class<C> type, C defaults, JsonNode node, String path,
                                                      java.util.Collection<String> reserved,
                                                      List<ConfigProblem> problems) {
        if (!node.isObject()) {
            problems.add(new ConfigProblem(path, "expected an object of " + type.getSimpleName() + " fields, found "
                    + describe(node)));
            return Optional.empty();
        }
        RecordComponent[] components = type.getRecordComponents();
        Map<String, RecordComponent> byName = new LinkedHashMap<>();
        for (RecordComponent c : components) {
            byName.put(fieldName(c), c);
        }
        int before = problems.size();
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!byName.containsKey(key) && !reserved.contains(key)) {
                List<String> known = new ArrayList<>(byName.keySet());
                known.addAll(reserved);
                problems.add(new ConfigProblem(join(path, key), "unknown field" + Spelling.hint(key, known)
                        + "; known fields: " + String.join(", ", known)));
            }
        }
        Object[] args = new Object[components.length];
        for (int i = 0; i < components.length; i++) {
            RecordComponent c = components[i];
            String name = fieldName(c);
            JsonNode value = node.get(name);
            if (value == null) {
                args[i] = read(c, defaults);
            } else {
                args[i] = convert(c.getGenericType(), value, join(path, name), c.getAnnotation(Range.class), problems);
            }
        }
        if (problems.size() > before) {
            return Optional.empty();
        }
        try {
            Constructor<C> ctor = type.getDeclaredConstructor(
                    Arrays.stream(components).map(RecordComponent::getType).toArray(Class<?>[]::new));
            return Optional.of(ctor.newInstance(args));
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof InvalidFieldException ife) {
                problems.add(new ConfigProblem(join(path, ife.field()), ife.getMessage()));
            } else if (cause instanceof IllegalArgumentException iae) {
                problems.add(new ConfigProblem(path, iae.getMessage()));
            } else {
                throw new IllegalStateException("config record " + type.getName() + " failed to construct", cause);
            }
            return Optional.empty();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("config record " + type.getName()
                    + " must be public in an exported package with a public canonical constructor", e);
        }
    }

    /** The record as a JSON object with snake_case keys; {@link #bind} reads it back to an equal record. */
    public static ObjectNode toTree(Record config) {
        ObjectNode out = NODES.objectNode();
        for (RecordComponent c : config.getClass().getRecordComponents()) {
            out.set(fieldName(c), toNode(read(c, config)));
        }
        return out;
    }

    /** The fields of a config type with their types, defaults and docs. */
    public static List<FieldInfo> describe(Class<? extends Record> type, Record defaults) {
        List<FieldInfo> out = new ArrayList<>();
        for (RecordComponent c : type.getRecordComponents()) {
            Doc doc = c.getAnnotation(Doc.class);
            Range range = c.getAnnotation(Range.class);
            String t = typeName(c.getGenericType());
            if (range != null) {
                t += " in " + rangeText(range);
            }
            out.add(new FieldInfo(fieldName(c), t, toNode(read(c, defaults)).toString(),
                    doc == null ? "" : doc.value()));
        }
        return out;
    }

    /** How an enum constant is spelled in configs. */
    public static String enumName(Enum<?> e) {
        return e instanceof ConfigEnum ce ? ce.configName() : e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static Object read(RecordComponent c, Record r) {
        try {
            return c.getAccessor().invoke(r);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read " + c.getName() + " of " + r.getClass().getName(), e);
        }
    }

    private static Object convert(Type type, JsonNode v, String path, Range range, List<ConfigProblem> problems) {
        if (type instanceof ParameterizedType pt && pt.getRawType() == List.class) {
            if (!v.isArray()) {
                problems.add(new ConfigProblem(path, "expected a list of " + typeName(pt.getActualTypeArguments()[0])
                        + ", found " + describe(v)));
                return null;
            }
            List<Object> out = new ArrayList<>();
            for (int i = 0; i < v.size(); i++) {
                out.add(convert(pt.getActualTypeArguments()[0], v.get(i), path + "[" + i + "]", range, problems));
            }
            return List.copyOf(out.stream().map(o -> o == null ? "" : o).toList());
        }
        Class<?> cls = (Class<?>) type;
        if (cls == int.class || cls == Integer.class || cls == long.class || cls == Long.class) {
            boolean isInt = cls == int.class || cls == Integer.class;
            String expected = "expected an integer" + integerRange(range, isInt);
            if (!v.isIntegralNumber() && !(v.isNumber() && v.asDouble() == Math.rint(v.asDouble()))) {
                problems.add(new ConfigProblem(path, expected + ", found " + describe(v)));
                return zero(cls);
            }
            if (isInt && !v.canConvertToInt() || !v.canConvertToLong()) {
                problems.add(new ConfigProblem(path, expected + ", found " + describe(v) + " (too large)"));
                return zero(cls);
            }
            if (range != null && (v.asDouble() < range.min() || v.asDouble() > range.max())) {
                problems.add(new ConfigProblem(path, "expected a value" + integerRange(range, isInt) + ", found " + v));
            }
            return isInt ? (Object) v.asInt() : (Object) v.asLong();
        }
        if (cls == double.class || cls == Double.class || cls == float.class || cls == Float.class) {
            if (!v.isNumber()) {
                problems.add(new ConfigProblem(path, "expected a number" + (range == null ? "" : " in "
                        + rangeText(range)) + ", found " + describe(v)));
                return zero(cls);
            }
            double d = v.asDouble();
            if (!Double.isFinite(d)) {
                problems.add(new ConfigProblem(path, "expected a finite number, found " + d));
            }
            checkRange(d, v.toString(), range, path, problems);
            return cls == float.class || cls == Float.class ? (Object) (float) d : (Object) d;
        }
        if (cls == boolean.class || cls == Boolean.class) {
            if (!v.isBoolean()) {
                problems.add(new ConfigProblem(path, "expected true or false, found " + describe(v)));
                return false;
            }
            return v.asBoolean();
        }
        if (cls == String.class) {
            if (!v.isTextual()) {
                problems.add(new ConfigProblem(path, "expected a string, found " + describe(v)));
                return "";
            }
            return v.asText();
        }
        if (cls.isEnum()) {
            List<String> names = Arrays.stream(cls.getEnumConstants()).map(e -> enumName((Enum<?>) e)).toList();
            if (v.isTextual()) {
                for (Object e : cls.getEnumConstants()) {
                    if (enumName((Enum<?>) e).equalsIgnoreCase(v.asText())) {
                        return e;
                    }
                }
            }
            problems.add(new ConfigProblem(path, "expected one of " + String.join(", ", names) + ", found "
                    + describe(v) + (v.isTextual() ? Spelling.hint(v.asText(), names) : "")));
            return cls.getEnumConstants()[0];
        }
        throw new IllegalStateException("config field type " + type + " is not supported at " + path);
    }

    private static void checkRange(double value, String text, Range range, String path, List<ConfigProblem> problems) {
        if (range != null && (value < range.min() || value > range.max())) {
            problems.add(new ConfigProblem(path, "expected a value in " + rangeText(range) + ", found " + text));
        }
    }

    /** " in [min, max]" of an integer field, the bounds clamped to what the Java type holds; "" without a range. */
    private static String integerRange(Range r, boolean isInt) {
        if (r == null) {
            return "";
        }
        double lo = Math.max(r.min(), isInt ? Integer.MIN_VALUE : Long.MIN_VALUE);
        double hi = Math.min(r.max(), isInt ? Integer.MAX_VALUE : Long.MAX_VALUE);
        return " in [" + (isInt ? Long.toString((long) lo) : bound(r.min())) + ", "
                + (isInt ? Long.toString((long) hi) : bound(r.max())) + "]";
    }

    private static String rangeText(Range r) {
        return "[" + bound(r.min()) + ", " + bound(r.max()) + "]";
    }

    private static String bound(double b) {
        if (Double.isInfinite(b)) {
            return b > 0 ? "inf" : "-inf";
        }
        return b == Math.rint(b) ? Long.toString((long) b) : Double.toString(b);
    }

    private static Object zero(Class<?> cls) {
        if (cls == int.class || cls == Integer.class) {
            return 0;
        }
        if (cls == long.class || cls == Long.class) {
            return 0L;
        }
        return cls == float.class || cls == Float.class ? (Object) 0f : (Object) 0.0;
    }

    private static JsonNode toNode(Object v) {
        return switch (v) {
            case null -> NODES.nullNode();
            case Integer i -> NODES.numberNode(i);
            case Long l -> NODES.numberNode(l);
            case Float f -> NODES.numberNode(f);
            case Double d -> NODES.numberNode(d);
            case Boolean b -> NODES.booleanNode(b);
            case String s -> NODES.textNode(s);
            case Enum<?> e -> NODES.textNode(enumName(e));
            case List<?> list -> {
                ArrayNode a = NODES.arrayNode();
                list.forEach(o -> a.add(toNode(o)));
                yield a;
            }
            default -> throw new IllegalStateException("config value type " + v.getClass() + " is not supported");
        };
    }

    private static String typeName(Type t) {
        if (t instanceof ParameterizedType pt && pt.getRawType() == List.class) {
            return "list of " + typeName(pt.getActualTypeArguments()[0]);
        }
        Class<?> c = (Class<?>) t;
        if (c.isEnum()) {
            return "one of " + Arrays.stream(c.getEnumConstants()).map(e -> enumName((Enum<?>) e))
                    .collect(Collectors.joining("|"));
        }
        if (c == int.class || c == Integer.class || c == long.class || c == Long.class) {
            return "integer";
        }
        if (c == double.class || c == Double.class || c == float.class || c == Float.class) {
            return "number";
        }
        return c == boolean.class || c == Boolean.class ? "boolean" : "string";
    }

    /** A JSON value as it reads in a message: its type and, for scalars, the value. */
    public static String describe(JsonNode v) {
        if (v.isTextual()) {
            return "string \"" + v.asText() + "\"";
        }
        if (v.isNumber()) {
            return "number " + v;
        }
        if (v.isBoolean()) {
            return "boolean " + v;
        }
        if (v.isNull()) {
            return "null";
        }
        return v.isArray() ? "a list" : "an object";
    }
}
