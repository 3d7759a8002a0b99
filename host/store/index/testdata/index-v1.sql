PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_ns INTEGER NOT NULL
);
INSERT INTO schema_migrations VALUES(1,1796669461316858925);
CREATE TABLE resource (
	id          INTEGER PRIMARY KEY,
	resource_id TEXT    NOT NULL UNIQUE,
	project_id  TEXT    NOT NULL,
	user_id     TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	cur_from_ns INTEGER NOT NULL, -- from_ns of the open metadata version
	cur_hash    INTEGER NOT NULL, -- its metadata hash
	metadata    TEXT    NOT NULL  -- its metadata, JSON object
);
INSERT INTO resource VALUES(1,'r1','p1','u1','openstack',1793491202000000000,-4450248442202793563,'{"state":"paused"}');
CREATE TABLE resource_span (
	id       INTEGER PRIMARY KEY,
	first_ns INTEGER NOT NULL,
	last_ns  INTEGER NOT NULL
);
INSERT INTO resource_span VALUES(1,1793491201000000000,1793491202000000000);
CREATE TABLE resource_meter (
	rid  INTEGER NOT NULL,
	name TEXT    NOT NULL,
	type TEXT    NOT NULL,
	unit TEXT    NOT NULL,
	PRIMARY KEY (rid, name, type, unit)
) WITHOUT ROWID;
INSERT INTO resource_meter VALUES(1,'cpu','cumulative','ns');
CREATE TABLE metadata_version (
	rid      INTEGER NOT NULL,
	from_ns  INTEGER NOT NULL,
	to_ns    INTEGER,          -- NULL: the open (current) version
	seen_ns  INTEGER NOT NULL, -- see version.seen; unused for the open version
	hash     INTEGER NOT NULL,
	metadata TEXT    NOT NULL, -- JSON object
	PRIMARY KEY (rid, from_ns)
) WITHOUT ROWID;
INSERT INTO metadata_version VALUES(1,1793491201000000000,1793491202000000000,1793491201000000000,4821203896103808228,'{"state":"active"}');
INSERT INTO metadata_version VALUES(1,1793491202000000000,NULL,1793491202000000000,-4450248442202793563,'{"state":"paused"}');
CREATE TABLE metadata_kv (
	key   TEXT    NOT NULL,
	value TEXT    NOT NULL,
	rid   INTEGER NOT NULL,
	PRIMARY KEY (key, value, rid)
) WITHOUT ROWID;
INSERT INTO metadata_kv VALUES('state','active',1);
INSERT INTO metadata_kv VALUES('state','paused',1);
CREATE TABLE event_type (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);
INSERT INTO event_type VALUES(1,'compute.instance.create.end');
INSERT INTO event_type VALUES(2,'image.upload');
INSERT INTO event_type VALUES(3,'x');
INSERT INTO event_type VALUES(4,'identity.authenticate');
CREATE TABLE event (
	id            INTEGER PRIMARY KEY,
	message_id    TEXT    NOT NULL UNIQUE,
	event_type_id INTEGER NOT NULL,
	generated_ns  INTEGER NOT NULL,
	project_id    TEXT    NOT NULL,
	raw           BLOB
);
INSERT INTO event VALUES(1,'m1',1,1793491210000000000,'p1',NULL);
INSERT INTO event VALUES(2,'m2',1,1793491220000000000,'p0',NULL);
INSERT INTO event VALUES(3,'m3',1,1793491230000000000,'p1',NULL);
INSERT INTO event VALUES(4,'m4',2,1793491240000000000,'p1',X'7b226576656e745f74797065223a22696d6167652e75706c6f6164227d');
INSERT INTO event VALUES(5,'twice',3,1793491250000000000,'',NULL);
INSERT INTO event VALUES(6,'bare',4,1793491260000000000,'',NULL);
CREATE TABLE trait (
	event_id   INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	type       INTEGER NOT NULL,
	t_text     TEXT,
	t_int      INTEGER,
	t_float    REAL,
	t_datetime INTEGER,
	PRIMARY KEY (event_id, name)
) WITHOUT ROWID;
INSERT INTO trait VALUES(1,'d',4,NULL,NULL,NULL,1793491300000000000);
INSERT INTO trait VALUES(1,'f',3,NULL,NULL,1.5,NULL);
INSERT INTO trait VALUES(1,'n',2,NULL,1,NULL,NULL);
INSERT INTO trait VALUES(1,'name',1,'vm1',NULL,NULL,NULL);
INSERT INTO trait VALUES(1,'tenant_id',1,'p1',NULL,NULL,NULL);
INSERT INTO trait VALUES(2,'d',4,NULL,NULL,NULL,1793491400000000000);
INSERT INTO trait VALUES(2,'f',3,NULL,NULL,2.5,NULL);
INSERT INTO trait VALUES(2,'n',2,NULL,2,NULL,NULL);
INSERT INTO trait VALUES(2,'name',1,'vm2',NULL,NULL,NULL);
INSERT INTO trait VALUES(2,'tenant_id',1,'p0',NULL,NULL,NULL);
INSERT INTO trait VALUES(3,'d',4,NULL,NULL,NULL,1793491500000000000);
INSERT INTO trait VALUES(3,'f',3,NULL,NULL,3.5,NULL);
INSERT INTO trait VALUES(3,'n',2,NULL,3,NULL,NULL);
INSERT INTO trait VALUES(3,'name',1,'vm3',NULL,NULL,NULL);
INSERT INTO trait VALUES(3,'tenant_id',1,'p1',NULL,NULL,NULL);
INSERT INTO trait VALUES(4,'name',1,'img',NULL,NULL,NULL);
INSERT INTO trait VALUES(4,'project_id',1,'p1',NULL,NULL,NULL);
INSERT INTO trait VALUES(5,'a',1,'second',NULL,NULL,NULL);
INSERT INTO trait VALUES(5,'b',2,NULL,-7,NULL,NULL);
INSERT INTO trait VALUES(5,'c',3,NULL,NULL,NULL,NULL);
INSERT INTO trait VALUES(5,'inf',3,NULL,NULL,-1e999,NULL);
INSERT INTO trait VALUES(5,'old',4,NULL,NULL,NULL,-206508800000000000);
INSERT INTO trait VALUES(5,'ünï',1,'çödé x',NULL,NULL,NULL);
ANALYZE sqlite_schema;
INSERT INTO sqlite_stat1 VALUES('metadata_kv','metadata_kv','2 2 1 1');
INSERT INTO sqlite_stat1 VALUES('event_type','sqlite_autoindex_event_type_1','4 1');
INSERT INTO sqlite_stat1 VALUES('metadata_version','metadata_version','2 2 1');
INSERT INTO sqlite_stat1 VALUES('event','event_project','6 2 1');
INSERT INTO sqlite_stat1 VALUES('event','event_type_generated','6 2 1');
INSERT INTO sqlite_stat1 VALUES('event','event_generated','6 1 1');
INSERT INTO sqlite_stat1 VALUES('event','sqlite_autoindex_event_1','6 1');
INSERT INTO sqlite_stat1 VALUES('resource_meter','resource_meter_name','1 1 1');
INSERT INTO sqlite_stat1 VALUES('resource_meter','resource_meter','1 1 1 1 1');
INSERT INTO sqlite_stat1 VALUES('trait','trait_text','10 2 2');
INSERT INTO sqlite_stat1 VALUES('trait','trait','23 5 1');
INSERT INTO sqlite_stat1 VALUES('resource','resource_user','1 1 1');
INSERT INTO sqlite_stat1 VALUES('resource','resource_project','1 1 1');
INSERT INTO sqlite_stat1 VALUES('resource','sqlite_autoindex_resource_1','1 1');
ANALYZE sqlite_schema;
CREATE INDEX resource_project ON resource (project_id, resource_id);
CREATE INDEX resource_user    ON resource (user_id, resource_id);
CREATE INDEX resource_meter_name ON resource_meter (name, rid);
CREATE INDEX event_generated      ON event (generated_ns, message_id);
CREATE INDEX event_type_generated ON event (event_type_id, generated_ns);
CREATE INDEX event_project        ON event (project_id, generated_ns);
CREATE INDEX trait_text ON trait (name, t_text) WHERE t_text IS NOT NULL;
COMMIT;
