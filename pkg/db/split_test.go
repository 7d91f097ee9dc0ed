package db

import (
	"io/fs"
	"slices"
	"strings"
	"testing"

	"lightnvr/migrations"
)

func TestSplitStatements(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"simple", "SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"no trailing semicolon", "SELECT 1;\nSELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"empty statements", ";; ;\n;", nil},
		{"single quotes", "INSERT INTO t VALUES ('a;b', 'it''s;');", []string{"INSERT INTO t VALUES ('a;b', 'it''s;')"}},
		{"double quotes", `CREATE TABLE "x;y" ("a""b;" INT);`, []string{`CREATE TABLE "x;y" ("a""b;" INT)`}},
		{"backticks and brackets", "SELECT `a;b`, [c;d] FROM t;", []string{"SELECT `a;b`, [c;d] FROM t"}},
		{"line comment", "SELECT 1; -- not; here\nSELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"comment in statement", "SELECT -- x;\n 1;", []string{"SELECT  \n 1"}},
		{"block comment", "SELECT /* ; */ 1; /* only a comment; */", []string{"SELECT   1"}},
		{"unclosed block comment", "SELECT 1; /* runs to the end; SELECT 2;", []string{"SELECT 1"}},
		{"quote chars in comments", "SELECT 1; -- it's\nSELECT 2; /* \" */", []string{"SELECT 1", "SELECT 2"}},
		{"comment chars in quotes", "SELECT '--;', '/*;';", []string{"SELECT '--;', '/*;'"}},
		{"minus not comment", "SELECT 3-1; SELECT 4/2;", []string{"SELECT 3-1", "SELECT 4/2"}},
		{
			"trigger",
			"CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET a = 1;\n  DELETE FROM u;\nEND;\nSELECT 1;",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET a = 1;\n  DELETE FROM u;\nEND", "SELECT 1"},
		},
		{
			"temp trigger with CASE and lower case",
			"create temp trigger tr after update on t when new.a > 0 begin select case when 1 then 'end;' else 2 end; insert into l values (case new.a when 1 then 2 end); end; select 9",
			[]string{"create temp trigger tr after update on t when new.a > 0 begin select case when 1 then 'end;' else 2 end; insert into l values (case new.a when 1 then 2 end); end", "select 9"},
		},
		{"BEGIN outside a trigger", "BEGIN; SELECT 1; END;", []string{"BEGIN", "SELECT 1", "END"}},
		{"identifier containing keywords", "CREATE TRIGGER x_begin BEGIN SELECT 1; END; SELECT 2", []string{"CREATE TRIGGER x_begin BEGIN SELECT 1; END", "SELECT 2"}},
	}
	for _, c := range cases {
		got, err := splitStatements(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestSplitStatementsErrors(t *testing.T) {
	for _, in := range []string{
		"SELECT 'open;",
		"SELECT 1;\nSELECT \"open",
		"SELECT [open",
		"SELECT `open",
		"CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1;",
		"SELECT 1;\n\nCREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT CASE WHEN 1 THEN 2 END; SELECT 3;",
	} {
		if got, err := splitStatements(in); err == nil {
			t.Errorf("%q: split into %q, want an error", in, got)
		}
	}
	_, err := splitStatements("SELECT 1;\n\nCREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1;")
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v does not name line 3", err)
	}
}

func TestAddColumnTarget(t *testing.T) {
	cases := []struct {
		in         string
		table, col string
		ok         bool
	}{
		{"ALTER TABLE streams ADD COLUMN tags TEXT", "STREAMS", "TAGS", true},
		{"alter table streams add tags text", "STREAMS", "TAGS", true},
		{`ALTER TABLE main."My Table" ADD COLUMN "Odd ""Col""" INT`, "My Table", `Odd "Col"`, true},
		{"ALTER TABLE [t] ADD `c`", "t", "c", true},
		{"ALTER TABLE t RENAME TO u", "", "", false},
		{"ALTER TABLE t DROP COLUMN c", "", "", false},
		{"ALTER TABLE t ADD COLUMN", "", "", false},
		{"CREATE TABLE t (a)", "", "", false},
	}
	for _, c := range cases {
		table, col, ok := addColumnTarget(c.in)
		if table != c.table || col != c.col || ok != c.ok {
			t.Errorf("%q = %q %q %v, want %q %q %v", c.in, table, col, ok, c.table, c.col, c.ok)
		}
	}
}

// FuzzSplitStatements: the splitter never panics, never returns an empty
// statement, and re-splitting its joined output gives the same statements.
func FuzzSplitStatements(f *testing.F) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if b, err := fs.ReadFile(migrations.FS, e.Name()); err == nil && strings.HasSuffix(e.Name(), ".sql") {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		"CREATE TRIGGER t BEGIN SELECT 1; END; SELECT 'x;y' -- c\n;",
		"a/*b*/c;d--e\nf;'g''h';\"i\"\"j\";[k;l];`m``n`",
		"create temporary trigger x begin case end end; end;",
		"-/**/-;/-- \n*",
		"\u00a0BEGIN;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		first, err := splitStatements(in)
		if err != nil {
			return
		}
		for _, s := range first {
			if s == "" || strings.Trim(s, asciiSpace) != s {
				t.Fatalf("statement %q is empty or untrimmed", s)
			}
		}
		again, err := splitStatements(strings.Join(first, ";\n"))
		if err != nil {
			t.Fatalf("re-split of %q: %v", first, err)
		}
		if !slices.Equal(first, again) {
			t.Fatalf("unstable:\n first %q\n again %q", first, again)
		}
	})
}
