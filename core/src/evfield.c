// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Event ids and field positions from a file's formats; bounded field reads; records
 * printed by libtraceevent from a padded copy.
 */
#include <errno.h>
#include <event-parse.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "evfield.h"
#include "util.h"

void vtc_evdesc_find(struct tep_handle *tep, const char *sys, const char *name,
		     const char *const *fields, struct vtc_evdesc *ret)
{
	struct tep_event *event = tep ? tep_find_event_by_name(tep, sys, name) : NULL;
	unsigned i;

	ret->id = event ? event->id : -1;
	for (i = 0; i < 4; i++) {
		ret->f[i].offset = -1;
		ret->f[i].size = 0;
	}
	for (i = 0; event && fields && i < 4 && fields[i]; i++) {
		struct tep_format_field *field = tep_find_field(event, fields[i]);

		if (!field || field->size < 1 || field->size > 8)
			continue;
		ret->f[i].offset = field->offset;
		ret->f[i].size = field->size;
	}
}

int vtc_field_u64(const struct vtc_evdesc *d, unsigned i, const struct vt_event *ev,
		  uint64_t *ret)
{
	const struct vtc_field *f = &d->f[i];
	uint64_t v = 0;

	if (i >= 4 || f->offset < 0 || (size_t)f->offset + (size_t)f->size > ev->size)
		return vtc_err(EBADMSG);
	memcpy(&v, (const char *)ev->data + f->offset, (size_t)f->size);
	*ret = le64toh(v);
	return 0;
}

/* a dynamic field's u32 holds offset (low 16 bits) and length (high 16 bits) */
#define DYN_REACH (0xffffu + 0xffffu + 1)

static int fields_extent(const struct tep_format_field *f, size_t *ext)
{
	for (; f; f = f->next) {
		size_t end;

		if (f->offset < 0 || f->size < 0)
			return vtc_err(EBADMSG);
		end = (size_t)f->offset + (size_t)f->size;
		if (f->flags & TEP_FIELD_IS_RELATIVE)
			end = (size_t)f->offset + 4 + DYN_REACH;
		else if (f->flags & TEP_FIELD_IS_DYNAMIC)
			end = end > DYN_REACH ? end : DYN_REACH;
		if (end > VTC_PRINT_MAX_EXTENT)
			return vtc_err(EBADMSG);
		if (end > *ext)
			*ext = end;
	}
	return 0;
}

int vtc_event_extent(const struct tep_event *event, size_t *ret)
{
	size_t ext = 0;
	int r = fields_extent(event->format.common_fields, &ext);

	if (!r)
		r = fields_extent(event->format.fields, &ext);
	if (!r)
		*ret = ext;
	return r;
}

void vtc_print_buf_fini(struct vtc_print_buf *pb)
{
	free(pb->buf);
	pb->buf = NULL;
	pb->cap = 0;
}

int vtc_print_event(struct tep_handle *tep, const struct tep_event *event,
		    const struct tep_record *rec, struct vtc_print_buf *pb, struct trace_seq *s)
{
	struct tep_record copy = *rec;
	size_t ext = 0, size = rec->size > 0 ? (size_t)rec->size : 0, need;

	if (vtc_event_extent(event, &ext) < 0) {
		trace_seq_puts(s, "[malformed format]");
		return 0;
	}
	/* the record, then zeros to the extent and one more (the NUL of any string) */
	need = (size > ext ? size : ext) + 1;
	if (need > pb->cap) {
		uint8_t *nb = realloc(pb->buf, need);

		if (!nb)
			return vtc_err(ENOMEM);
		memset(nb + pb->cap, 0, need - pb->cap);
		pb->buf = nb;
		pb->cap = need;
	}
	memcpy(pb->buf, rec->data, size);
	copy.data = pb->buf;
	/* the record as long as its fields say: a field past its end reads zeros (and a
	 * "char x[]" running to the end has no negative length) */
	copy.size = (int)(size > ext ? size : ext);
	tep_print_event(tep, s, &copy, "%s", TEP_PRINT_INFO);
	memset(pb->buf, 0, size);
	return 0;
}

/* ---- formats: divisions libtraceevent may make by zero ---- */

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

/* after a divisor: nothing that could extend it (end, ',', ')', '?', ':', ';') */
static bool divisor_ends(const char *p, const char *end)
{
	p = skip_space(p, end);
	return p == end || strchr(",)?:;", *p);
}

/* a non-zero integer literal (decimal, octal or hex, with U/L suffixes) */
static bool literal_digit(char c, unsigned base)
{
	return base == 16 ? isxdigit((unsigned char)c) : c >= '0' && c < (char)('0' + base);
}

/* a C integer literal (hex, octal with a leading 0, decimal) other than 0: libtraceevent
 * folds "x / 0999" (an invalid octal, read as 0) into a division by zero */
static bool nonzero_literal(const char *p, const char *end, const char **ret)
{
	bool nonzero = false;
	unsigned base = 10;

	if (p + 1 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p + 1 < end && p[0] == '0' && isdigit((unsigned char)p[1])) {
		base = 8;
	}
	if (p == end || !literal_digit(*p, base))
		return false;
	while (p < end && literal_digit(*p, base))
		nonzero |= *p++ != '0';
	while (p < end && strchr("uUlL", *p))
		p++;
	*ret = p;
	return nonzero && (p == end || !isalnum((unsigned char)*p));
}

/* is the divisor at @p (just after the operator) safe? */
static bool safe_divisor(const char *p, const char *end)
{
	unsigned open = 0;
	const char *q;

	p = skip_space(p, end);
	while (p < end && *p == '(') {	/* (1000) or ((u64)1000) are not folded away */
		open++;
		p = skip_space(p + 1, end);
	}
	if (!nonzero_literal(p, end, &q))
		return false;
	while (open--) {
		q = skip_space(q, end);
		if (q == end || *q != ')')
			return false;
		q++;
	}
	return divisor_ends(q, end);
}

/* @p..@e starts with @word; then *ret just after it */
static bool eat(const char *p, const char *e, const char *word, const char **ret)
{
	size_t n = strlen(word);

	if ((size_t)(e - p) < n || memcmp(p, word, n))
		return false;
	*ret = p + n;
	return true;
}

/* "key:<digits>;" after blanks */
static bool eat_number(const char *p, const char *e, const char *key, const char **ret)
{
	const char *d;

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (!eat(p, e, key, &p))
		return false;
	for (d = p; p < e && isdigit((unsigned char)*p); p++)
		;
	if (p == d || p == e || *p != ';')
		return false;
	*ret = p + 1;
	return true;
}

/*
 * One line before the print line, as tracefs writes it: "name: N", "ID: N", "format:",
 * "\tfield:DECL;\toffset:N;\tsize:N;\tsigned:N;" or blank (libtraceevent 1.7 crashes on
 * malformed field lines).
 */
static bool format_line_ok(const char *p, const char *e)
{
	const char *q;

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (p == e)
		return true;
	if (eat(p, e, "name: ", &q) || eat(p, e, "ID: ", &q)) {
		bool id = *p == 'I';

		if (q == e)
			return false;
		for (; q < e; q++)
			if (id ? !isdigit((unsigned char)*q) : !(isalnum((unsigned char)*q) || *q == '_'))
				return false;
		return true;
	}
	if (eat(p, e, "format:", &q))
		return q == e;
	if (!eat(p, e, "field:", &q))
		return false;
	for (p = q; p < e && *p != ';'; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\'')
			return false;
	if (p == q || p == e)
		return false;
	p++;
	if (!eat_number(p, e, "offset:", &p) || !eat_number(p, e, "size:", &p) ||
	    !eat_number(p, e, "signed:", &p))
		return false;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p == e;
}

static bool format_lines_ok(const char *text, const char *end)
{
	for (const char *line = text; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line)), *e = nl ? nl : end;

		if (!format_line_ok(line, e))
			return false;
		line = nl ? nl + 1 : end;
	}
	return true;
}

/* whether a "field:TYPE NAME[...];" line of @fields..@fend declares @name */
static bool field_declared(const char *fields, const char *fend, const char *name, size_t n)
{
	for (const char *p = fields; p < fend;) {
		const char *f = memmem(p, (size_t)(fend - p), "field:", 6), *semi, *e;

		if (!f)
			return false;
		f += 6;
		semi = memchr(f, ';', (size_t)(fend - f));
		if (!semi)
			return false;
		e = semi;
		if (e > f && e[-1] == ']')	/* an array: the name is before '[' */
			while (e > f && *e != '[')
				e--;
		while (e > f && isspace((unsigned char)e[-1]))
			e--;
		if ((size_t)(e - f) >= n && !memcmp(e - n, name, n)) {
			const char *before = e - n;

			if (before == f || !(isalnum((unsigned char)before[-1]) || before[-1] == '_'))
				return true;
		}
		p = semi + 1;
	}
	return false;
}

static const char *ident_end(const char *p, const char *end)
{
	while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
		p++;
	return p;
}

/* "(NAME)" after a getter: NAME a field of the format; *ret after the ')' */
static bool getter_arg(const char *p, const char *end, const char *fields, const char *fend,
		       const char **ret)
{
	const char *name, *q;

	p = skip_space(p, end);
	if (p == end || *p != '(')
		return false;
	name = skip_space(p + 1, end);
	q = ident_end(name, end);
	if (q == name || !field_declared(fields, fend, name, (size_t)(q - name)))
		return false;
	q = skip_space(q, end);
	if (q == end || *q != ')')
		return false;
	*ret = q + 1;
	return true;
}

static bool is_word(const char *p, size_t n, const char *const *words)
{
	for (size_t i = 0; words[i]; i++)
		if (strlen(words[i]) == n && !memcmp(p, words[i], n))
			return true;
	return false;
}

/*
 * The helpers libtraceevent takes a field's name in: __get_str(f) and the like must
 * name a field, and the first argument of __print_hex, __print_hex_str and
 * __print_array must be REC->f or __get_dynamic_array(f) (libtraceevent reads any
 * other argument as a field: type confusion, a wild pointer).
 */
static bool helper_ok(const char *id, const char *idend, const char *end, const char *fields,
		      const char *fend)
{
	static const char *const getters[] = {
		"__get_str", "__get_dynamic_array", "__get_dynamic_array_len", "__get_bitmask",
		"__get_rel_str", "__get_rel_dynamic_array", "__get_rel_dynamic_array_len",
		"__get_rel_bitmask", "__get_sockaddr", "__get_rel_sockaddr", NULL,
	};
	static const char *const arrays[] = { "__print_hex", "__print_hex_str", "__print_array",
					       NULL };
	static const char *const array_getters[] = { "__get_dynamic_array",
						     "__get_rel_dynamic_array", NULL };
	size_t n = (size_t)(idend - id);
	const char *p, *q;

	if (is_word(id, n, getters))
		return getter_arg(idend, end, fields, fend, &q);
	if (!is_word(id, n, arrays))
		return true;
	p = skip_space(idend, end);
	if (p == end || *p != '(')
		return false;
	p = skip_space(p + 1, end);
	q = ident_end(p, end);
	if ((size_t)(end - p) >= 5 && !memcmp(p, "REC->", 5)) {
		q = ident_end(p + 5, end);
		if (q == p + 5 || !field_declared(fields, fend, p + 5, (size_t)(q - p - 5)))
			return false;
	} else if (!is_word(p, (size_t)(q - p), array_getters) ||
		   !getter_arg(q, end, fields, fend, &q)) {
		return false;
	}
	q = skip_space(q, end);
	return q < end && *q == ',';
}

/*
 * ---- the print arguments, token by token as libtraceevent 1.7 reads them ----
 *
 * Its parser calls process_op() on a NULL argument when an operator it ranks at 0 or
 * below ("[", "{", "=" and any operator it does not know) follows a subscript or the
 * last operand of a "?:" (fuzz-dat: REC->a[0][1], c ? 1 : REC->b[0], REC->a[0] = 1),
 * and recurses once per unary operator (a chain of them leaks and can exhaust the
 * stack). Only the shapes of the kernel's own formats pass: known operators, one
 * unary operator (or "!!"), a subscript only on the "REC->f" or "__get_str(f)" that
 * opens an argument (after a cast), braces only as the "{ VALUE, NAME }" entries of
 * __print_symbolic/__print_flags, and every "?" closed by a ":" in the same brackets.
 * Of this kernel's 2323 formats, one more than before is left out: ftrace's
 * func_repeats, whose "(REC)->" libtraceevent cannot parse either.
 */

struct ptok {
	const char *s;
	size_t n;
	char kind;	/* '"' string, '\'' char, 'w' word, '(' ')' ',' themselves, 'o' operator */
};

static bool tok_is(const struct ptok *t, const char *word)
{
	return t->n == strlen(word) && !memcmp(t->s, word, t->n);
}

/* the length of the operator at @p, split as libtraceevent's tokenizer does */
static size_t op_len(const char *p, const char *end)
{
	char c = *p, c2 = p + 1 < end ? p[1] : 0;

	if (c == '-' && c2 == '>')
		return 2;
	if (c2 == c && strchr("-+|&<>", c))
		return (c == '<' || c == '>') && p + 2 < end && p[2] == '=' ? 3 : 2;
	return c2 == '=' && strchr("-+|&<>!=", c) ? 2 : 1;
}

/* the tokens of @p..@end into *ret (adjacent strings are one, as libtraceevent joins
 * them); the literals are known to be closed. -ENOMEM or their number. */
static ssize_t print_tokens(const char *p, const char *end, struct ptok **ret)
{
	struct ptok *t = NULL;
	size_t n = 0, cap = 0;

	for (p = skip_space(p, end); p < end; p = skip_space(p, end)) {
		struct ptok k = { .s = p, .kind = 'o' };

		if (*p == '"' || *p == '\'') {
			k.kind = *p;
			for (p++; *p != k.kind; p++)
				p += *p == '\\';
			p++;
		} else if (isalnum((unsigned char)*p) || *p == '_') {
			k.kind = 'w';
			p = ident_end(p, end);
		} else if (strchr("(),", *p)) {
			k.kind = *p++;
		} else {
			p += op_len(p, end);
		}
		k.n = (size_t)(p - k.s);
		if (k.kind == '"' && n && t[n - 1].kind == '"') {
			t[n - 1].n = (size_t)(p - t[n - 1].s);
			continue;
		}
		if (n == cap) {
			struct ptok *bigger = reallocarray(t, cap ? 2 * cap : 64, sizeof(*t));

			if (!bigger) {
				free(t);
				return -ENOMEM;
			}
			t = bigger;
			cap = cap ? 2 * cap : 64;
		}
		t[n++] = k;
	}
	*ret = t;
	return (ssize_t)n;
}

static bool ends_operand(const struct ptok *t)
{
	return t->kind != 'o' ? t->kind != '(' && t->kind != ',' : tok_is(t, "]") || tok_is(t, "}");
}

/* libtraceevent's binary operators and '?' (it ranks them 1 and up) */
static const char *const ranked_ops[] = { "+", "-", "*", "/", "%", "<<", ">>", "<", ">", "<=",
					  ">=", "==", "!=", "&", "|", "^", "&&", "||", "?", NULL };

/*
 * "[N]" at @i after a "REC->f" or "__get_str(f)" that opens the argument (from @arg0,
 * after a cast if any), followed by the argument's end or an operator ranked 1 and up
 */
static bool subscript_ok(const struct ptok *t, size_t n, size_t i, size_t arg0)
{
	size_t base;

	if (i >= arg0 + 3 && tok_is(&t[i - 3], "REC") && tok_is(&t[i - 2], "->"))
		base = i - 3;
	else if (i >= arg0 + 4 && tok_is(&t[i - 4], "__get_str") && t[i - 1].kind == ')')
		base = i - 4;
	else
		return false;
	if (i + 2 >= n || t[i + 1].kind != 'w' || !tok_is(&t[i + 2], "]"))
		return false;
	for (size_t j = 0; j < t[i + 1].n; j++)
		if (!isdigit((unsigned char)t[i + 1].s[j]))
			return false;
	if (i + 3 < n && t[i + 3].kind != ',' &&
	    !(t[i + 3].kind == 'o' && is_word(t[i + 3].s, t[i + 3].n, ranked_ops)))
		return false;
	if (base == arg0)
		return true;
	if (base < arg0 + 3 || t[arg0].kind != '(' || t[base - 1].kind != ')')
		return false;
	for (size_t j = arg0 + 1; j < base - 1; j++)
		if (t[j].kind != 'w' && !tok_is(&t[j], "*"))
			return false;
	return true;
}

/* VALUE tokens of an entry from @j up to @stop (',' or '}') outside parentheses: words,
 * parentheses and arithmetic; the index of @stop, or 0 */
static size_t entry_value(const struct ptok *t, size_t n, size_t j, const char *stop)
{
	static const char *const value_ops[] = { "+", "-", "*", "/", "%", "<<", ">>", "&", "|",
						 "^", "~", "!", NULL };
	size_t first = j;
	int open = 0;

	for (; j < n; j++) {
		if (!open && t[j].n == 1 && *t[j].s == *stop && t[j].kind != '"' &&
		    t[j].kind != '\'')
			return j > first ? j : 0;
		if (t[j].kind == '(')
			open++;
		else if (t[j].kind == ')' && --open < 0)
			return 0;
		else if ((t[j].kind == 'w' && tok_is(&t[j], "REC")) || t[j].kind == '"' ||
			 t[j].kind == '\'' || t[j].kind == ',' ||
			 (t[j].kind == 'o' && !is_word(t[j].s, t[j].n, value_ops)))
			return 0;
	}
	return 0;
}

/* "{ VALUE, NAME }" at @i (the '{'), NAME a string or a VALUE (the kernel's ((void *)0)),
 * or "{ }"; then ',' or ')' */
static bool entry_ok(const struct ptok *t, size_t n, size_t i)
{
	size_t j = i + 1;

	if (j < n && !tok_is(&t[j], "}")) {
		j = entry_value(t, n, j, ",");
		if (!j)
			return false;
		if (j + 2 < n && t[j + 1].kind == '"')
			j += 2;
		else if (!(j = entry_value(t, n, j + 1, "}")))
			return false;
	}
	return j + 1 < n && tok_is(&t[j], "}") && (t[j + 1].kind == ',' || t[j + 1].kind == ')');
}

/* the print arguments of @t: see above; every REC->x names a field of @fields..@fend
 * (libtraceevent dereferences NULL for one that does not) */
static bool print_args_ok(const struct ptok *t, size_t n, const char *fields, const char *fend)
{
	static const char *const other_ops[] = { "->", "!", "~", ":", "[", "]", "{", "}", NULL };
	static const char *const listings[] = { "__print_symbolic", "__print_flags",
						"__print_symbolic_u64", "__print_flags_u64", NULL };
	char open[64];			/* '(' a parenthesis, 'l' a listing's, '{' an entry */
	unsigned conds[65] = { 0 };	/* '?' waiting for their ':', per depth */
	unsigned depth = 0, unary = 0;
	size_t i = 0, arg0;

	/* print fmt: "FORMAT" */
	if (n < 4 || !tok_is(&t[0], "print") || !tok_is(&t[1], "fmt") || !tok_is(&t[2], ":") ||
	    t[3].kind != '"')
		return false;
	if (n > 4 && t[4].kind != ',')
		return false;
	for (i = 4, arg0 = 5; i < n; i++) {
		const struct ptok *k = &t[i], *prev = &t[i - 1];
		bool operand = !ends_operand(prev);

		if (k->kind != 'o' || !operand)
			unary = 0;
		/* REC->x of a field x, REC an operand of its own: after a word libtraceevent
		 * reads "long REC" as one atom and "->" as an operator it does not know */
		if (k->kind == 'w' && tok_is(k, "REC") &&
		    ((!operand && prev->kind != ')') || i + 2 >= n || !tok_is(&t[i + 1], "->") ||
		     t[i + 2].kind != 'w' || !field_declared(fields, fend, t[i + 2].s, t[i + 2].n)))
			return false;
		if (k->kind == '(') {
			if (depth == sizeof(open))
				return false;
			open[depth++] = prev->kind == 'w' && is_word(prev->s, prev->n, listings) ?
					'l' : '(';
			conds[depth] = 0;
		} else if (k->kind == ')') {
			if (!depth || open[depth - 1] == '{' || conds[depth])
				return false;
			depth--;
		} else if (k->kind == ',') {
			if (conds[depth])
				return false;
			if (!depth)
				arg0 = i + 1;
		} else if (k->kind == 'o') {
			if (!is_word(k->s, k->n, other_ops) && !is_word(k->s, k->n, ranked_ops))
				return false;
			if (tok_is(k, "->")) {
				if (!tok_is(prev, "REC"))
					return false;
			} else if (tok_is(k, "[")) {
				if (depth || !subscript_ok(t, n, i, arg0))
					return false;
				i += 2;
			} else if (tok_is(k, "{")) {
				if (!depth || open[depth - 1] != 'l' || prev->kind != ',' ||
				    depth == sizeof(open) || !entry_ok(t, n, i))
					return false;
				open[depth++] = '{';
				conds[depth] = 0;
			} else if (tok_is(k, "}")) {
				if (!depth || open[depth - 1] != '{')
					return false;
				depth--;
			} else if (tok_is(k, "]")) {
				return false;
			} else if (tok_is(k, "?")) {
				conds[depth]++;
			} else if (tok_is(k, ":")) {
				if (!conds[depth]--)
					return false;
			} else if (operand && !(tok_is(k, "*") && i + 1 < n &&
						(tok_is(&t[i + 1], "*") || t[i + 1].kind == ')'))) {
				/* a unary operator (not a pointer type's '*'): - + ! ~, one or "!!" */
				if (k->n != 1 || !strchr("-+!~", *k->s) ||
				    (++unary == 2 && !(tok_is(k, "!") && tok_is(prev, "!"))) ||
				    unary > 2)
					return false;
			}
		}
	}
	return depth == 0 && conds[0] == 0;
}

/*
 * The print section (from the "print" line on) as the kernel writes it: one line of
 * printable ASCII, string literals closed, char literals of one (escaped) character,
 * only safe divisions, and arguments built as print_args_ok wants them
 * (libtraceevent 1.7 dereferences NULL on many a syntax error).
 */
static bool print_section_safe(const char *text, const char *p, const char *end)
{
	const char *fields = text, *fend = p, *section = p;
	struct ptok *tokens;
	ssize_t n;
	bool ok;

	while (p < end && end[-1] == '\n')
		end--;
	for (; p < end; p++) {
		if (*p < 0x20 || *p > 0x7e)
			return false;
		/*
		 * outside literals: what C expressions of the kernel's formats are made of;
		 * no '.': only statement expressions libtraceevent cannot parse use one,
		 * and it dereferences NULL for an identifier.member call (fuzz-dat)
		 */
		if (*p != '"' && *p != '\'' && !isalnum((unsigned char)*p) &&
		    !strchr(" \t_()[]{}+-*/%&|^~!<>=?:,", *p))
			return false;
		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\' && ++p == end)
					return false;
			if (p == end)
				return false;
			continue;
		}
		if (*p == '\'') {
			p += p + 1 < end && p[1] == '\\' ? 2 : 1;
			if (p + 1 >= end || p[1] != '\'' || *p == '\'')
				return false;
			p++;
			continue;
		}
		if ((*p == '/' || *p == '%') && !safe_divisor(p + 1, end))
			return false;
		/* libtraceevent 1.7 parses no print fmt with sizeof (the kernel's 7 fail)
		 * and has use-after-frees on the way */
		if ((size_t)(end - p) >= 6 && !memcmp(p, "sizeof", 6))
			return false;
		if ((isalpha((unsigned char)*p) || *p == '_') &&
		    (p == fend || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
			const char *q = ident_end(p, end);

			if (!helper_ok(p, q, end, fields, fend))
				return false;
		}
	}
	n = print_tokens(section, end, &tokens);
	if (n < 0)
		return false;
	ok = print_args_ok(tokens, (size_t)n, fields, fend);
	free(tokens);
	return ok;
}

/* the first line that starts (after blanks) with the word "print", or NULL */
static const char *print_line(const char *text, const char *end)
{
	for (const char *line = text; line < end;) {
		const char *p = line, *nl;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) >= 5 && !memcmp(p, "print", 5) &&
		    (end - p == 5 || !(isalnum((unsigned char)p[5]) || p[5] == '_')))
			return line;
		nl = memchr(line, '\n', (size_t)(end - line));
		line = nl ? nl + 1 : end;
	}
	return NULL;
}

int vtc_format_parse(struct tep_handle *tep, const char *text, size_t len, const char *sys,
		     size_t *ret_kept)
{
	const char *end = text + len, *pf = print_line(text, end);
	const char *quote = NULL;
	char *copy;
	int r;

	for (const char *p = text; p < end && !quote; p++)
		if (*p == '"' || *p == '\'')
			quote = p;
	/* kernel formats quote nothing before the print line: one that does may hide where
	 * libtraceevent's print section starts */
	if ((quote && (!pf || quote < pf)) || !format_lines_ok(text, pf ? pf : end))
		return vtc_err(EBADMSG);
	if (ret_kept)
		*ret_kept = len;
	if (!pf || print_section_safe(text, pf, end))
		return tep_parse_event(tep, text, len, sys);
	/* the fields without the print format */
	if (ret_kept)
		*ret_kept = (size_t)(pf - text);
	copy = strndup(text, (size_t)(pf - text));
	if (!copy)
		return vtc_err(ENOMEM);
	r = tep_parse_event(tep, copy, (size_t)(pf - text), sys);
	free(copy);
	return r < 0 && r != -ENOMEM ? r : 1;
}
