namespace sluice::record {}
