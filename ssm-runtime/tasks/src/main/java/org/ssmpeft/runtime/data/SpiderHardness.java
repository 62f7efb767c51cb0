package org.ssmpeft.runtime.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The hardness of a Spider query (easy, medium, hard, extra), computed from the parsed {@code sql} field of the
 * questions files exactly as Spider's official {@code evaluation.py} ({@code Evaluator.eval_hardness}) does:
 * <ul>
 *   <li>component1 = [where] + [group by] + [order by] + [limit] + (tables in FROM - 1) + the {@code or}s and the
 *       {@code like} conditions of FROM, WHERE and HAVING;</li>
 *   <li>component2 = nested queries: condition values that are queries, and INTERSECT, EXCEPT, UNION;</li>
 *   <li>others = [more than one aggregation] + [more than one SELECT column] + [more than one WHERE condition] + [more
 *       than one GROUP BY column];</li>
 *   <li>easy: c1 &le; 1, others 0, c2 0; medium: (others &le; 2, c1 &le; 1, c2 0) or (c1 &le; 2, others &lt; 2, c2 0);
 *       hard: (others &gt; 2, c1 &le; 2, c2 0) or (2 &lt; c1 &le; 3, others &le; 2, c2 0) or (c1 &le; 1, others 0,
 *       c2 &le; 1); else extra.</li>
 * </ul>
 * The reference's quirks are kept, since its numbers are computed with them: a WHERE condition with {@code NOT}
 * counts as an aggregation ({@code has_agg} reads the condition's first element, the not flag), and so does every
 * {@code and}/{@code or} between HAVING conditions (the string's first character is not 0).
 */
public final class SpiderHardness {

    /** The levels, easiest first. */
    public static final List<String> LEVELS = List.of("easy", "medium", "hard", "extra");

    /** {@code WHERE_OPS.index('like')} in Spider's {@code process_sql.py}. */
    private static final int LIKE = 9;

    private SpiderHardness() {
    }

    /** The hardness of a parsed query; empty when the record carries no parsed query (an empty {@code sql}). */
    public static Optional<String> of(JsonNode sql) {
        if (sql == null || !sql.isObject() || sql.isEmpty()) {
            return Optional.empty();
        }
        int c1 = component1(sql);
        int c2 = nested(sql).size();
        int others = others(sql);
        if (c1 <= 1 && others == 0 && c2 == 0) {
            return Optional.of("easy");
        } else if ((others <= 2 && c1 <= 1 && c2 == 0) || (c1 <= 2 && others < 2 && c2 == 0)) {
            return Optional.of("medium");
        } else if ((others > 2 && c1 <= 2 && c2 == 0) || (2 < c1 && c1 <= 3 && others <= 2 && c2 == 0)
                || (c1 <= 1 && others == 0 && c2 <= 1)) {
            return Optional.of("hard");
        }
        return Optional.of("extra");
    }

    /** Elements 0, 2, 4... of a list ({@code [::2]}): the conditions between and/or. */
    private static List<JsonNode> even(JsonNode list) {
        List<JsonNode> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i += 2) {
            out.add(list.get(i));
        }
        return out;
    }

    /** Elements 1, 3, 5... ({@code [1::2]}): the and/or between conditions. */
    private static List<JsonNode> odd(JsonNode list) {
        List<JsonNode> out = new ArrayList<>();
        for (int i = 1; i < list.size(); i += 2) {
            out.add(list.get(i));
        }
        return out;
    }

    private static List<JsonNode> conditions(JsonNode sql) {
        List<JsonNode> out = new ArrayList<>(even(sql.path("from").path("conds")));
        out.addAll(even(sql.path("where")));
        out.addAll(even(sql.path("having")));
        return out;
    }

    private static List<JsonNode> nested(JsonNode sql) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode cond : conditions(sql)) {
            if (cond.path(3).isObject()) {
                out.add(cond.get(3));
            }
            if (cond.path(4).isObject()) {
                out.add(cond.get(4));
            }
        }
        for (String set : List.of("intersect", "except", "union")) {
            if (sql.path(set).isObject()) {
                out.add(sql.get(set));
            }
        }
        return out;
    }

    private static int component1(JsonNode sql) {
        int count = 0;
        count += sql.path("where").isEmpty() ? 0 : 1;
        count += sql.path("groupBy").isEmpty() ? 0 : 1;
        count += sql.path("orderBy").isEmpty() ? 0 : 1;
        count += sql.path("limit").isNull() || sql.path("limit").isMissingNode() ? 0 : 1;
        int tables = sql.path("from").path("table_units").size();
        count += tables > 0 ? tables - 1 : 0;
        List<JsonNode> andOr = new ArrayList<>(odd(sql.path("from").path("conds")));
        andOr.addAll(odd(sql.path("where")));
        andOr.addAll(odd(sql.path("having")));
        count += (int) andOr.stream().filter(t -> t.asText().equals("or")).count();
        count += (int) conditions(sql).stream().filter(c -> c.path(1).asInt(-1) == LIKE).count();
        return count;
    }

    private static int others(JsonNode sql) {
        int agg = 0;
        JsonNode select = sql.path("select").path(1);
        for (JsonNode unit : select) {
            agg += hasAgg(unit) ? 1 : 0;
        }
        for (JsonNode cond : even(sql.path("where"))) {
            agg += hasAgg(cond) ? 1 : 0;
        }
        for (JsonNode col : sql.path("groupBy")) {
            agg += hasAgg(col) ? 1 : 0;
        }
        JsonNode orderBy = sql.path("orderBy");
        if (!orderBy.isEmpty()) {
            for (JsonNode valUnit : orderBy.path(1)) {
                for (int i = 1; i <= 2; i++) {
                    JsonNode col = valUnit.path(i);
                    if (truthy(col)) {
                        agg += hasAgg(col) ? 1 : 0;
                    }
                }
            }
        }
        for (JsonNode unit : sql.path("having")) {
            agg += hasAgg(unit) ? 1 : 0;
        }
        int count = agg > 1 ? 1 : 0;
        count += select.size() > 1 ? 1 : 0;
        count += sql.path("where").size() > 1 ? 1 : 0;
        count += sql.path("groupBy").size() > 1 ? 1 : 0;
        return count;
    }

    /** Python's {@code unit[0] != AGG_OPS.index('none')}, for a list (its first element) or a string. */
    private static boolean hasAgg(JsonNode unit) {
        if (unit.isTextual()) {
            return !unit.asText().isEmpty(); // a character never equals 0
        }
        JsonNode first = unit.path(0);
        if (first.isBoolean()) {
            return first.booleanValue(); // False == 0 in Python
        }
        return first.asInt(0) != 0;
    }

    /** Python truthiness of a JSON value (null, false, 0, empty). */
    private static boolean truthy(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) {
            return false;
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        if (n.isNumber()) {
            return n.doubleValue() != 0;
        }
        if (n.isTextual()) {
            return !n.asText().isEmpty();
        }
        return !n.isContainerNode() || n.size() > 0;
    }
}
