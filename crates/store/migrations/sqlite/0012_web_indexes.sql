-- A collector's queue is read on every page view: find its open tasks without scanning
-- every open task of the department.
CREATE INDEX tasks_collector_status ON tasks (collector_id, status);
