package db

import (
	"fmt"
	"strings"
)

// asciiSpace is trimmed from statements. Unicode spaces are not: the scanner
// reads bytes ≥ 0x80 as identifier characters, and trimming them would
// change how a statement tokenises.
const asciiSpace = " \t\n\r\f\v"

// splitStatements cuts SQL text into statements at semicolons that are
// outside quotes ('…', "…", `…`, […]) and comments (-- and /* */), and
// outside the BEGIN … END body of a CREATE TRIGGER. Comments are dropped
// (each replaced by a space, which separates tokens just as the comment
// did); empty statements are dropped. The statements come back without
// their terminating semicolon.
//
// Unterminated quotes and trigger bodies are errors: SQLite would reject
// the statement anyway, and failing here names the line.
func splitStatements(src string) ([]string, error) {
	var (
		out     []string
		cur     strings.Builder
		first   []string // first three tokens of the statement, upper-cased
		depth   int      // BEGIN/CASE … END nesting, counted in triggers only
		trigger bool
		stmtAt  = 1 // line the current statement starts on, for errors
		line    = 1
		empty   = true // nothing but whitespace since the last statement
	)
	emit := func() {
		if s := strings.Trim(cur.String(), asciiSpace); s != "" {
			out = append(out, s)
		}
		cur.Reset()
		empty = true
		first = first[:0]
		depth, trigger = 0, false
	}
	token := func(tok string) {
		if len(first) < 3 {
			first = append(first, tok)
			trigger = isCreateTrigger(first)
			return
		}
		if !trigger {
			return
		}
		switch tok {
		case "BEGIN", "CASE":
			depth++
		case "END":
			depth--
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		if empty && strings.IndexByte(asciiSpace, c) < 0 {
			stmtAt, empty = line, false
		}
		switch {
		case c == '\'' || c == '"' || c == '`' || c == '[':
			end := quoteEnd(src, i)
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated %c quote", line, c)
			}
			lit := src[i:end]
			line += strings.Count(lit, "\n")
			cur.WriteString(lit)
			if c != '\'' {
				token("") // a quoted identifier is never a keyword
			}
			i = end
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				j = len(src) - i
			}
			cur.WriteByte(' ')
			i += j // the newline itself stays in the text
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			j := strings.Index(src[i+2:], "*/")
			end := len(src) // like SQLite, an unclosed comment runs to the end
			if j >= 0 {
				end = i + 2 + j + 2
			}
			line += strings.Count(src[i:end], "\n")
			cur.WriteByte(' ')
			i = end
		case c == ';':
			if trigger && depth > 0 {
				cur.WriteByte(c)
			} else {
				emit()
			}
			i++
		case isWordByte(c):
			j := i + 1
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			cur.WriteString(src[i:j])
			token(strings.ToUpper(src[i:j]))
			i = j
		default:
			if c == '\n' {
				line++
			}
			cur.WriteByte(c)
			i++
		}
	}
	if trigger && depth > 0 {
		return nil, fmt.Errorf("line %d: CREATE TRIGGER without END", stmtAt)
	}
	emit()
	return out, nil
}

// quoteEnd returns the index just past the quote opened at src[i], or -1.
// A doubled closing character inside '…', "…" and `…` is an escaped one.
func quoteEnd(src string, i int) int {
	open := src[i]
	closing := open
	if open == '[' {
		closing = ']'
	}
	for j := i + 1; j < len(src); j++ {
		if src[j] != closing {
			continue
		}
		if open != '[' && j+1 < len(src) && src[j+1] == closing {
			j++
			continue
		}
		return j + 1
	}
	return -1
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func isCreateTrigger(t []string) bool {
	if len(t) < 2 || t[0] != "CREATE" {
		return false
	}
	if t[1] == "TRIGGER" {
		return true
	}
	return len(t) >= 3 && (t[1] == "TEMP" || t[1] == "TEMPORARY") && t[2] == "TRIGGER"
}

// sqlTokens returns up to max leading tokens of a statement: words
// upper-cased, quoted identifiers unquoted (case kept), any other character
// as itself. It serves statement classification only.
func sqlTokens(stmt string, max int) []string {
	var toks []string
	for i := 0; i < len(stmt) && len(toks) < max; {
		c := stmt[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '"' || c == '`' || c == '[':
			end := quoteEnd(stmt, i)
			if end < 0 {
				return toks
			}
			inner := stmt[i+1 : end-1]
			if c != '[' {
				inner = strings.ReplaceAll(inner, string(c)+string(c), string(c))
			}
			toks = append(toks, inner)
			i = end
		case isWordByte(c):
			j := i + 1
			for j < len(stmt) && isWordByte(stmt[j]) {
				j++
			}
			toks = append(toks, strings.ToUpper(stmt[i:j]))
			i = j
		default:
			toks = append(toks, string(c))
			i++
		}
	}
	return toks
}

// addColumnTarget recognises ALTER TABLE [schema.]table ADD [COLUMN] column
// and returns the table and column (upper-cased when unquoted; SQLite
// compares names without regard to ASCII case).
func addColumnTarget(stmt string) (table, column string, ok bool) {
	t := sqlTokens(stmt, 9)
	if len(t) < 5 || t[0] != "ALTER" || t[1] != "TABLE" {
		return "", "", false
	}
	t = t[2:]
	if len(t) >= 3 && t[1] == "." {
		t = t[2:]
	}
	if len(t) < 3 || t[1] != "ADD" {
		return "", "", false
	}
	table, t = t[0], t[2:]
	if t[0] == "COLUMN" {
		if len(t) < 2 {
			return "", "", false
		}
		t = t[1:]
	}
	return table, t[0], true
}
