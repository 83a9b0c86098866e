-- Reap expired seats of an idle pool (after prune.lua, which does the work). Returns how many.
return #expired / 2
