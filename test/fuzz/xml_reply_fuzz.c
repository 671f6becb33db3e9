/*
 * xml_reply_fuzz.c: libFuzzer target for src/xml_reply.c (the XML reader of
 * object stores' replies).  Contract checked: any bytes give a tree or NULL
 * with a message; no crash, no out-of-bounds access, and every node's text
 * is text_len bytes long.
 */
#include "postgres_fe.h"

#include "fuzz_palloc.h"
#include "xml_reply.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const MeshXmlNode *node)
{
	for (; node; node = node->next)
	{
		if (node->name == NULL || node->text == NULL || node->text_len < 0 ||
			node->text[node->text_len] != '\0')
			__builtin_trap();
		walk(node->first_child);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *error = NULL;
	MeshXmlNode *root = mesh_xml_parse((const char *) data, size, &error);

	if (root)
	{
		walk(root);
		(void) mesh_xml_child_text(root, "Key");
	}
	else if (error == NULL)
		__builtin_trap();		/* NULL comes with a message */
	fuzz_palloc_reset();
	return 0;
}
