/*
 * influxdb_deparse.h: the InfluxQL SELECT of a scan (influxdb_deparse.c).
 */
#ifndef MESH_INFLUXDB_DEPARSE_H
#define MESH_INFLUXDB_DEPARSE_H

#include "influxdb_internal.h"

typedef struct InfluxSelect
{
	char	   *text;			/* the InfluxQL */
	bool		nothing;		/* a condition matches no row: send nothing */
	bool		aggregate;
	bool		grouped;		/* GROUP BY tags or time */
	bool		by_time;		/* GROUP BY time(): rows carry bucket starts */
	bool		star;			/* SELECT *: columns mapped by name */
	int			nitems;			/* select items (the answer's columns after time) */
	AttrNumber *item_att;		/* plain scan: the column of each item */
	int		   *item_out;		/* aggregate: the output of each item, -1: a guard */
} InfluxSelect;

extern void influx_classify_qual(MeshTable *table, InfluxLayout *l, MeshQual *q);
extern AttrNumber influx_count_star_field(MeshTable *table, InfluxLayout *l);
extern InfluxSelect *influx_build_select(MeshTable *table, InfluxLayout *l, int nquals,
										 MeshQual *quals, MeshUpper *upper, bool *wanted);

#endif							/* MESH_INFLUXDB_DEPARSE_H */
