-- Seat policies an owner sets on the license (0 = off): how long a member may borrow a seat for
-- offline use, and how many seats one member may hold at once on all their machines.
ALTER TABLE licenses ADD COLUMN max_borrow_seconds BIGINT NOT NULL DEFAULT 0 CHECK (max_borrow_seconds >= 0);
ALTER TABLE licenses ADD COLUMN max_seats_per_user INTEGER NOT NULL DEFAULT 0 CHECK (max_seats_per_user >= 0);
