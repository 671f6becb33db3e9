/*
 * xml_reply.c: the small XML reader of xml_reply.h.
 *
 * One pass over the bytes with an explicit stack of open elements (no
 * recursion, depth at most XML_MAX_DEPTH): every malformation returns NULL
 * with a message naming the byte offset.
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "xml_reply.h"

#define XML_MAX_DEPTH 64

typedef struct XmlParser
{
	const char *data;
	size_t		len;
	size_t		pos;
	char	   *error;
	StringInfoData text;		/* text of the innermost open element so far */
} XmlParser;

static bool
fail(XmlParser *p, const char *what)
{
	if (p->error == NULL)
		p->error = psprintf("%s at byte %zu", what, p->pos);
	return false;
}

static bool
at(XmlParser *p, const char *s)
{
	size_t		n = strlen(s);

	return p->len - p->pos >= n && memcmp(p->data + p->pos, s, n) == 0;
}

/* Move past the next occurrence of end; false when there is none. */
static bool
skip_past(XmlParser *p, const char *end)
{
	size_t		n = strlen(end);

	while (p->len - p->pos >= n)
	{
		if (memcmp(p->data + p->pos, end, n) == 0)
		{
			p->pos += n;
			return true;
		}
		p->pos++;
	}
	return false;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Append code point cp as UTF-8; false when it is not an XML character. */
static bool
append_code_point(StringInfo buf, unsigned long cp)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return false;
	if (cp < 0x80)
		appendStringInfoChar(buf, (char) cp);
	else if (cp < 0x800)
	{
		appendStringInfoChar(buf, (char) (0xC0 | (cp >> 6)));
		appendStringInfoChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
	else if (cp < 0x10000)
	{
		appendStringInfoChar(buf, (char) (0xE0 | (cp >> 12)));
		appendStringInfoChar(buf, (char) (0x80 | ((cp >> 6) & 0x3F)));
		appendStringInfoChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
	else
	{
		appendStringInfoChar(buf, (char) (0xF0 | (cp >> 18)));
		appendStringInfoChar(buf, (char) (0x80 | ((cp >> 12) & 0x3F)));
		appendStringInfoChar(buf, (char) (0x80 | ((cp >> 6) & 0x3F)));
		appendStringInfoChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
	return true;
}

/* Decode the reference at p->pos ('&') into p->text. */
static bool
read_reference(XmlParser *p)
{
	static const struct
	{
		const char *name;
		char		c;
	}			named[] = {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''}};
	unsigned long cp = 0;
	int			digits = 0;
	bool		hex;

	p->pos++;
	for (int i = 0; i < lengthof(named); i++)
		if (at(p, named[i].name))
		{
			appendStringInfoChar(&p->text, named[i].c);
			p->pos += strlen(named[i].name);
			return true;
		}
	if (!at(p, "#"))
		return fail(p, "unknown entity reference");
	p->pos++;
	hex = at(p, "x");
	if (hex)
		p->pos++;
	while (p->pos < p->len && p->data[p->pos] != ';')
	{
		char		c = p->data[p->pos];
		int			d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (hex && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (hex && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return fail(p, "malformed character reference");
		if (++digits > 8)
			return fail(p, "character reference out of range");
		cp = cp * (hex ? 16 : 10) + d;
		p->pos++;
	}
	if (p->pos >= p->len || digits == 0)
		return fail(p, "malformed character reference");
	p->pos++;
	if (!append_code_point(&p->text, cp))
		return fail(p, "character reference to a character XML does not allow");
	return true;
}

/* Read a tag name at p->pos into a palloc'd string without its prefix. */
static char *
read_name(XmlParser *p)
{
	size_t		start = p->pos;
	const char *name;
	const char *colon;
	size_t		n;

	while (p->pos < p->len && !is_space(p->data[p->pos]) &&
		   p->data[p->pos] != '>' && p->data[p->pos] != '/' && p->data[p->pos] != '<' &&
		   p->data[p->pos] != '=')
		p->pos++;
	n = p->pos - start;
	if (n == 0)
	{
		fail(p, "missing element name");
		return NULL;
	}
	name = p->data + start;
	colon = memchr(name, ':', n);
	if (colon != NULL)
	{
		n -= colon + 1 - name;
		name = colon + 1;
		if (n == 0)
		{
			fail(p, "missing element name");
			return NULL;
		}
	}
	return pnstrdup(name, n);
}

/*
 * Skip a start tag's attributes up to '>' or '/>' (a '>' inside a quoted
 * value does not end the tag); *empty tells which.
 */
static bool
skip_attributes(XmlParser *p, bool *empty)
{
	while (p->pos < p->len)
	{
		char		c = p->data[p->pos];

		if (c == '"' || c == '\'')
		{
			const char *close = memchr(p->data + p->pos + 1, c, p->len - p->pos - 1);

			if (close == NULL)
				return fail(p, "unterminated attribute value");
			p->pos = close - p->data + 1;
		}
		else if (c == '<')
			return fail(p, "'<' inside a tag");
		else if (c == '>')
		{
			*empty = p->pos > 0 && p->data[p->pos - 1] == '/';
			p->pos++;
			return true;
		}
		else
			p->pos++;
	}
	return fail(p, "unterminated tag");
}

/* Store the collected text in node and start collecting afresh. */
static void
flush_text(XmlParser *p, MeshXmlNode *node)
{
	if (node != NULL && p->text.len > 0)
	{
		if (node->text_len == 0)
			node->text = pnstrdup(p->text.data, p->text.len);
		else
			node->text = psprintf("%s%.*s", node->text, p->text.len, p->text.data);
		node->text_len += p->text.len;
	}
	resetStringInfo(&p->text);
}

/* True when the collected text is only whitespace. */
static bool
text_is_space(XmlParser *p)
{
	for (int i = 0; i < p->text.len; i++)
		if (!is_space(p->text.data[i]))
			return false;
	return true;
}

static MeshXmlNode *
new_node(MeshXmlNode *parent, char *name)
{
	MeshXmlNode *n = palloc0(sizeof(MeshXmlNode));

	n->name = name;
	n->text = "";
	n->parent = parent;
	if (parent)
	{
		if (parent->last_child)
			parent->last_child->next = n;
		else
			parent->first_child = n;
		parent->last_child = n;
	}
	return n;
}

/* A start or end tag at p->pos ('<', not a comment or the like). */
static bool
read_tag(XmlParser *p, MeshXmlNode **root, MeshXmlNode **cur, int *depth)
{
	bool		closing = p->pos + 1 < p->len && p->data[p->pos + 1] == '/';
	char	   *name;

	p->pos += closing ? 2 : 1;
	name = read_name(p);
	if (name == NULL)
		return false;
	if (closing)
	{
		while (p->pos < p->len && is_space(p->data[p->pos]))
			p->pos++;
		if (!at(p, ">"))
			return fail(p, "malformed end tag");
		p->pos++;
		if (*cur == NULL || strcmp((*cur)->name, name) != 0)
			return fail(p, psprintf("end tag </%s> does not close the open element", name));
		flush_text(p, *cur);
		*cur = (*cur)->parent;
		(*depth)--;
	}
	else
	{
		bool		empty = false;
		MeshXmlNode *node;

		if (*cur == NULL && *root != NULL)
			return fail(p, "a second root element");
		if (*cur == NULL && !text_is_space(p))
			return fail(p, "text before the root element");
		if (!skip_attributes(p, &empty))
			return false;
		flush_text(p, *cur);
		if (++(*depth) > XML_MAX_DEPTH)
			return fail(p, "elements nested too deeply");
		node = new_node(*cur, name);
		if (*root == NULL)
			*root = node;
		if (empty)
			(*depth)--;
		else
			*cur = node;
	}
	return true;
}

MeshXmlNode *
mesh_xml_parse(const char *data, size_t len, char **error)
{
	XmlParser	p = {data, len, 0, NULL};
	MeshXmlNode *root = NULL;
	MeshXmlNode *cur = NULL;
	int			depth = 0;
	bool		ok = true;

	initStringInfo(&p.text);
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		p.pos = 3;
	while (ok && p.pos < p.len)
	{
		char		c = data[p.pos];

		if (c == '\0')
			ok = fail(&p, "a NUL byte");
		else if (c == '&')
			ok = read_reference(&p);
		else if (c != '<')
			appendStringInfoChar(&p.text, data[p.pos++]);
		else if (at(&p, "<?"))
			ok = skip_past(&p, "?>") || fail(&p, "unterminated processing instruction");
		else if (at(&p, "<!--"))
			ok = skip_past(&p, "-->") || fail(&p, "unterminated comment");
		else if (at(&p, "<![CDATA["))
		{
			size_t		start = p.pos + 9;

			p.pos = start;
			if (!skip_past(&p, "]]>"))
				ok = fail(&p, "unterminated CDATA section");
			else if (memchr(data + start, '\0', p.pos - 3 - start) != NULL)
				ok = fail(&p, "a NUL byte");
			else
				appendBinaryStringInfo(&p.text, data + start, p.pos - 3 - start);
		}
		else if (at(&p, "<!"))
			ok = fail(&p, "a document type declaration (not supported)");
		else
			ok = read_tag(&p, &root, &cur, &depth);
		if (ok && cur == NULL && root != NULL && !text_is_space(&p))
			ok = fail(&p, "text after the root element");
	}
	if (ok && root == NULL)
		ok = fail(&p, "no root element");
	if (ok && cur != NULL)
		ok = fail(&p, psprintf("element <%s> is not closed", cur->name));
	if (!ok)
	{
		*error = p.error;
		return NULL;
	}
	*error = NULL;
	return root;
}

MeshXmlNode *
mesh_xml_child(const MeshXmlNode *node, const char *name)
{
	for (MeshXmlNode *c = node ? node->first_child : NULL; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

const char *
mesh_xml_child_text(const MeshXmlNode *node, const char *name)
{
	MeshXmlNode *c = mesh_xml_child(node, name);

	return c ? c->text : NULL;
}

/* Append s as XML character data: & < > " ' escaped. */
void
mesh_xml_append_escaped(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		switch (*s)
		{
			case '&':
				appendStringInfoString(buf, "&amp;");
				break;
			case '<':
				appendStringInfoString(buf, "&lt;");
				break;
			case '>':
				appendStringInfoString(buf, "&gt;");
				break;
			case '"':
				appendStringInfoString(buf, "&quot;");
				break;
			case '\'':
				appendStringInfoString(buf, "&apos;");
				break;
			default:
				appendStringInfoChar(buf, *s);
		}
	}
}
