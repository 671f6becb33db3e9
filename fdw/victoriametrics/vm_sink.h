/*
 * vm_sink.h: VictoriaMetrics writes (vm_sink.c): INSERT through a metric
 * table and the replication sink, both line protocol on /write, and verify
 * through /api/v1/export.
 */
#ifndef MESH_VM_SINK_H
#define MESH_VM_SINK_H

#include "connector.h"

/* Route options of the sink (as InfluxDB's); join the connector's table. */
#define VM_SINK_OPTIONS \
	{.name = "measurement", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "tags", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING}, \
	{.name = "time", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_STRING, .min = 1}, \
	{.name = "round_time", .where = MESH_OPT_ROUTE, .type = MESH_OPTTYPE_BOOL}

extern int	vm_row_identity(MeshTable *table, AttrNumber *attnums);
extern void vm_begin_modify(MeshModify *m);
extern void vm_modify_row(MeshModify *m);
extern void vm_end_modify(MeshModify *m);

extern const MeshSinkOps vm_sink_ops;
extern void vm_fetch_request(void *conn, MeshRoute *route, int n, char ***keys,
							 MeshHttpRequest *req);
extern void vm_fetch_answer(void *conn, MeshRoute *route, int n, char ***keys,
							MeshHttpStream *answer, char ***rows);
extern int	vm_scan_keys(void *conn, MeshRoute *route, void **state, int max, char ***keys);
extern void vm_expected_values(void *conn, MeshRoute *route, char **values);

#endif							/* MESH_VM_SINK_H */
