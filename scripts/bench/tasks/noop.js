// The no-op task of the Graphile Worker comparison (see ../graphile.cjs).
module.exports = async () => {};
