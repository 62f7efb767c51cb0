package org.ssmpeft.examples.tasks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Predicate;
import org.ssmpeft.runtime.data.Example;
import org.ssmpeft.runtime.data.PromptFormat;

/**
 * Text-to-SQL over a small company database (Spider's task kind), scored by execution accuracy on SQLite.
 *
 * <p>The database {@value #DATABASE} (written by {@link #writeResources}) is fixed, whatever the seed:
 * {@code departments(name text primary key, budget integer, floor integer, city text)} with 6 rows and
 * {@code employees(id integer primary key, name text, age integer, salary integer, dept text)} with 36 rows. The seed
 * picks the questions: 10 templates, 2 phrasings each, with slot values drawn from the database so that every gold
 * query returns rows. The base model is pre-trained on templates 0-4 only.
 *
 * <p>Prompt: Spider's input shape without the schema (there is one database, so the schema would be the same 200
 * bytes on every example): input {@code "Question: <question>\n"}, then {@code ###}, label the lower-case gold SQL +
 * eos, no prefix.
 */
public final class SqlTask implements BundledTask {

    public static final String DATABASE = "company.sqlite";
    public static final String DB_ID = "company";

    static final List<String> DEPTS = List.of("sales", "research", "support", "finance", "legal", "design");
    static final List<String> CITIES = List.of("lyon", "oslo", "porto", "riga", "turin", "ghent", "bern", "kyiv");
    static final List<String> NAMES = List.of("anna", "ben", "carl", "dora", "emil", "fay", "gus", "hana", "ivan",
            "jane", "kurt", "lena", "max", "nina", "otto", "pia", "quin", "rosa", "sam", "tina", "udo", "vera", "walt",
            "xena", "yuri", "zoe", "alma", "bert", "cleo", "dirk", "eva", "finn", "greta", "hugo", "ida", "jonas");

    record Employee(int id, String name, int age, int salary, String dept) {
    }

    record Department(String name, int budget, int floor, String city) {
    }

    static final List<Department> DEPARTMENTS;
    static final List<Employee> EMPLOYEES;

    static {
        SplittableRandom world = new SplittableRandom(20250301L);
        List<Department> ds = new ArrayList<>();
        for (int i = 0; i < DEPTS.size(); i++) {
            ds.add(new Department(DEPTS.get(i), 100 * (5 + world.nextInt(40)), 1 + i, CITIES.get(world.nextInt(
                    CITIES.size()))));
        }
        List<Employee> es = new ArrayList<>();
        for (int i = 0; i < NAMES.size(); i++) {
            es.add(new Employee(i + 1, NAMES.get(i), 21 + world.nextInt(44), 1000 * (30 + world.nextInt(60)),
                    DEPTS.get(i % DEPTS.size())));
        }
        DEPARTMENTS = List.copyOf(ds);
        EMPLOYEES = List.copyOf(es);
    }

    /** Templates below this index are in the pre-training text; the others only in fine-tuning data. */
    static final int PRETRAIN_TEMPLATES = 5;
    static final int TEMPLATES = 10;

    @Override
    public String name() {
        return "sql";
    }

    @Override
    public String description() {
        return "text-to-SQL over a 2-table SQLite database (36 employees, 6 departments); execution accuracy";
    }

    @Override
    public PromptFormat format() {
        return PromptFormat.generation("");
    }

    @Override
    public String mainScore() {
        return "execution_accuracy";
    }

    @Override
    public boolean classification() {
        return false;
    }

    @Override
    public Example draw(SplittableRandom rng, boolean pretraining) {
        int t = rng.nextInt(pretraining ? PRETRAIN_TEMPLATES : TEMPLATES);
        boolean alt = rng.nextBoolean();
        Employee e = BundledTasks.pick(rng, EMPLOYEES);
        String dept = BundledTasks.pick(rng, DEPTS);
        int k = rng.nextInt(5);   // how far a numeric threshold lies from the chosen employee's value
        String q;
        String sql;
        switch (t) {
            case 0 -> {
                q = alt ? "how many employees work in " + dept + "?" : "count the employees of " + dept + ".";
                sql = "select count(*) from employees where dept = '" + dept + "'";
            }
            case 1 -> {
                int age = e.age() - 1 - k;
                q = alt ? "list the names of employees older than " + age + "." : "who is older than " + age + "?";
                sql = "select name from employees where age > " + age;
            }
            case 2 -> {
                q = alt ? "what is the salary of " + e.name() + "?" : "how much does " + e.name() + " earn?";
                sql = "select salary from employees where name = '" + e.name() + "'";
            }
            case 3 -> {
                q = alt ? "what is the average salary in " + dept + "?" : "average salary of " + dept + "?";
                sql = "select avg(salary) from employees where dept = '" + dept + "'";
            }
            case 4 -> {
                q = alt ? "which department is " + e.name() + " in?" : "in which department does " + e.name()
                        + " work?";
                sql = "select dept from employees where name = '" + e.name() + "'";
            }
            case 5 -> {
                int s = e.salary() - 1000 * (1 + k);
                q = alt ? "who earns more than " + s + "?" : "list employees with a salary above " + s + ".";
                sql = "select name from employees where salary > " + s;
            }
            case 6 -> {
                q = alt ? "what is the budget of " + dept + "?" : "how big is the budget of " + dept + "?";
                sql = "select budget from departments where name = '" + dept + "'";
            }
            case 7 -> {
                int age = e.age() + 1 + k;
                q = alt ? "how many employees are younger than " + age + "?" : "count employees under " + age + ".";
                sql = "select count(*) from employees where age < " + age;
            }
            case 8 -> {
                q = alt ? "in which city is " + dept + "?" : "where is the " + dept + " department?";
                sql = "select city from departments where name = '" + dept + "'";
            }
            default -> {
                int age = e.age() - 1 - k;
                dept = e.dept();
                q = alt ? "list employees in " + dept + " older than " + age + "." : "who in " + dept
                        + " is older than " + age + "?";
                sql = "select name from employees where dept = '" + dept + "' and age > " + age;
            }
        }
        return new Example("Question: " + q + "\n", sql, Map.of("db_id", DB_ID, "template", Integer.toString(t)));
    }

    @Override
    public String sentence(SplittableRandom rng) {
        Employee e = BundledTasks.pick(rng, EMPLOYEES);
        Department d = BundledTasks.pick(rng, DEPARTMENTS);
        return switch (rng.nextInt(4)) {
            case 0 -> e.name() + " works in " + e.dept() + " and is " + e.age() + " years old.";
            case 1 -> e.name() + " earns " + e.salary() + " a year.";
            case 2 -> "the " + d.name() + " department is on floor " + d.floor() + " in " + d.city() + ".";
            default -> "the budget of " + d.name() + " is " + d.budget() + ".";
        };
    }

    @Override
    public void writeResources(Path dir) throws IOException {
        writeDatabase(dir.resolve(DATABASE));
    }

    @Override
    public List<String> resourceFiles() {
        return List.of(DATABASE);
    }

    /** Writes the database (replacing a file there). */
    public static void writeDatabase(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.deleteIfExists(file);
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath())) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("create table departments (name text primary key, budget integer, floor integer,"
                        + " city text)");
                s.execute("create table employees (id integer primary key, name text, age integer, salary integer,"
                        + " dept text references departments(name))");
            }
            try (PreparedStatement p = c.prepareStatement("insert into departments values (?, ?, ?, ?)")) {
                for (Department d : DEPARTMENTS) {
                    p.setString(1, d.name());
                    p.setInt(2, d.budget());
                    p.setInt(3, d.floor());
                    p.setString(4, d.city());
                    p.executeUpdate();
                }
            }
            try (PreparedStatement p = c.prepareStatement("insert into employees values (?, ?, ?, ?, ?)")) {
                for (Employee e : EMPLOYEES) {
                    p.setInt(1, e.id());
                    p.setString(2, e.name());
                    p.setInt(3, e.age());
                    p.setInt(4, e.salary());
                    p.setString(5, e.dept());
                    p.executeUpdate();
                }
            }
            c.commit();
        } catch (SQLException e) {
            throw new IOException("cannot write the task database " + file + ": " + e.getMessage(), e);
        }
    }

    static <T> long count(List<T> items, Predicate<T> p) {
        return items.stream().filter(p).count();
    }
}
