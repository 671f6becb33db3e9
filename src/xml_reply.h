/*
 * xml_reply.h: a small, strict reader of the XML documents object stores
 * answer with (S3's ListBucketResult and Error, Azure Blob's
 * EnumerationResults): elements, their text and their children.
 *
 * It reads what those replies use: elements, attributes (skipped), text,
 * the five predefined entities, character references, CDATA sections,
 * comments and the XML declaration.  Anything else (a DTD, an unknown
 * entity, a mismatched or unclosed tag, text outside the root) makes the
 * document malformed: the parser returns NULL with a message, never
 * crashes and never ereports.  Everything is palloc'd in the current
 * memory context.
 */
#ifndef MESH_XML_REPLY_H
#define MESH_XML_REPLY_H

#include "lib/stringinfo.h"

typedef struct MeshXmlNode
{
	char	   *name;			/* local name: a namespace prefix is dropped */
	char	   *text;			/* the decoded text directly inside ("" if none) */
	int			text_len;		/* its length in bytes */
	struct MeshXmlNode *parent;
	struct MeshXmlNode *first_child;
	struct MeshXmlNode *last_child;
	struct MeshXmlNode *next;	/* the next sibling */
} MeshXmlNode;

/* The root element of data[0..len), or NULL with *error (palloc'd) set. */
extern MeshXmlNode *mesh_xml_parse(const char *data, size_t len, char **error);

/* The first child of node named name, or NULL. */
extern MeshXmlNode *mesh_xml_child(const MeshXmlNode *node, const char *name);

/* The text of the first child of node named name, or NULL when there is none. */
extern const char *mesh_xml_child_text(const MeshXmlNode *node, const char *name);

/* Append s escaped as XML character data (for requests mesh writes). */
extern void mesh_xml_append_escaped(StringInfo buf, const char *s);

#endif							/* MESH_XML_REPLY_H */
