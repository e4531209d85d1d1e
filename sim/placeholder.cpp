int llmmr_sim_placeholder_ = 0;
